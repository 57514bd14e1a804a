/**
 * The formats a chat edit takes, checked where files come in (src/chat/download.ts) for every
 * platform: an image of another format (an SVG, a BMP) is refused with the list of those that
 * work, before its download when the platform declares it and after when only the bytes tell;
 * a redirect (Slack's answer to a missing scope, like its HTML sign-in page) is worded as that.
 */
import { describe, expect, it } from 'vitest';
import { downloadFile, imageFormat, incomingFile, isPhotoFile, PHOTO_FORMATS, unsupportedImage, type FileSource } from '../src/chat/download.js';
import { rejection } from './helpers/errors.js';

const SVG = Buffer.from('<?xml version="1.0"?>\n<!-- drawn by hand -->\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const words = { noAddress: 'no address', notHosted: 'not hosted', unreachable: 'unreachable', refused: 'refused', verb: 'share' };
const slackWords = { ...words, webPage: { page: 'the bot needs the files:read scope', notAnImage: 'not an image' } };

function source(answer: () => Response, withWebPage = false): FileSource & { calls: number } {
  const files = {
    hosts: ['files.example'],
    platformHosts: ['files.example'],
    words: withWebPage ? slackWords : words,
    calls: 0,
    fetch: async () => {
      files.calls += 1;
      return answer();
    },
  };
  return files;
}

describe('the photo formats of a chat edit', () => {
  it('tells formats apart by their bytes, an SVG behind an XML declaration and a comment too', () => {
    expect(imageFormat(PNG)).toBe('png');
    expect(imageFormat(SVG)).toBe('svg');
    expect(imageFormat(Buffer.from('<!DOCTYPE html><html><body>Sign in</body></html>'))).toBeUndefined();
    expect(imageFormat(Buffer.from('BM\0\0'))).toBe('bmp');
  });

  it('names a declared image of another format, and takes the photo formats', () => {
    expect(unsupportedImage({ name: 'logo.svg', contentType: 'image/svg+xml' })).toBe('an SVG image');
    expect(unsupportedImage({ name: 'scan.bmp' })).toBe('a BMP image');
    expect(unsupportedImage({ name: 'photo.jpg', contentType: 'image/jpeg' })).toBeUndefined();
    expect(unsupportedImage({ name: 'notes.pdf', contentType: 'application/pdf' })).toBeUndefined(); // not an image at all: the flow says so
    expect([isPhotoFile({ name: 'a.png', contentType: 'image/png' }), isPhotoFile({ name: 'a.svg', contentType: 'image/svg+xml' })]).toEqual([true, false]);
  });

  it('refuses a declared SVG before downloading it, naming the formats that work (Discord accepted and edited it)', async () => {
    const files = source(() => new Response(SVG, { headers: { 'content-type': 'image/svg+xml' } }));
    const file = incomingFile({ name: 'logo.svg', url: 'https://files.example/logo.svg', contentType: 'image/svg+xml', size: SVG.length }, files);
    const error = await rejection(file.download(1_000_000));
    expect([error.code, error.message]).toEqual(['bad_image', `logo.svg is an SVG image, which cannot be edited. Send a ${PHOTO_FORMATS} photo.`]);
    expect(files.calls).toBe(0);
  });

  it('refuses SVG bytes as an SVG, not as the sign-in page (Slack said the bot needed files:read)', async () => {
    const files = source(() => new Response(SVG, { headers: { 'content-type': 'application/octet-stream' } }), true);
    const error = await rejection(downloadFile('https://files.example/files-pri/T1-F1/drawing.svg', 1_000_000, files));
    expect(error.message).toBe(`drawing.svg is an SVG image, which cannot be edited. Send a ${PHOTO_FORMATS} photo.`);
    expect(error.message).not.toContain('files:read');
  });

  it('words a redirect to the sign-in page as the missing scope, like the page itself, and never follows it', async () => {
    const redirect = source(() => new Response(null, { status: 302, headers: { location: 'https://fake.slack.com/?redir=%2Ffiles-pri%2FT1-F1' } }), true);
    expect((await rejection(downloadFile('https://files.example/files-pri/T1-F1/a.png', 1_000, redirect))).message).toBe('the bot needs the files:read scope');
    expect(redirect.calls).toBe(1);
    const page = source(() => new Response('<!DOCTYPE html><html></html>', { headers: { 'content-type': 'text/html' } }), true);
    expect((await rejection(downloadFile('https://files.example/files-pri/T1-F1/a.png', 1_000, page))).message).toBe('the bot needs the files:read scope');
    // A platform without such pages says it could not be downloaded.
    const plain = source(() => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/' } }));
    expect((await rejection(downloadFile('https://files.example/a.png', 1_000, plain))).message).toBe('unreachable');
  });
});
