/**
 * The policy every adapter shares (src/chat): allow-lists, host-checked downloads, truncation,
 * image fitting and the mapping of events, on neutral inputs.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { AccessPolicy, type AccessFacts } from '../src/chat/access.js';
import { downloadFile, type FileSource } from '../src/chat/download.js';
import { buttonPress, editRequest, withoutMentions, type ChatEvent } from '../src/chat/incoming.js';
import type { ChatMessage } from '../src/chat/transport.js';
import { truncate } from '../src/chat/truncate.js';
import { fitMessage } from '../src/chat/upload.js';
import { rejection } from './helpers/errors.js';

const person = (facts: Partial<AccessFacts> = {}): AccessFacts => ({ user: 'u1', space: 'g1', channel: 'c1', isDm: false, roles: [], platformAdmin: false, ...facts });

describe('AccessPolicy', () => {
  const server = { space: 'server' };

  it('words each refusal with the platform’s name for a server, and lets everyone in without lists', async () => {
    expect(new AccessPolicy({}, server).refusal(person())).toBeUndefined();
    const strict = new AccessPolicy({ spaces: ['g2'], directMessages: false }, server);
    expect(strict.refusal(person())).toBe('This bot is not enabled in this server.');
    expect(strict.refusal(person({ isDm: true, space: undefined }))).toBe('Edits are not available in direct messages; use the command in a server channel.');
    expect(new AccessPolicy({ users: ['u2'] }, server).refusal(person())).toBe('You are not on the list of people who may request edits; ask the bot’s admin.');
    expect(await strict.admits(person({ space: 'g2' }))).toBe(true);
  });

  it('counts a thread as its parent channel and skips channel and server lists in a DM', () => {
    const policy = new AccessPolicy({ channels: ['c1', 'c9'], spaces: ['g1'] }, server);
    expect(policy.refusal(person({ channel: 't1', parentChannel: 'c9' }))).toBeUndefined();
    expect(policy.refusal(person({ channel: 'c2' }))).toBe('Edits are not enabled in this channel; use <#c1>, <#c9>.');
    expect(policy.refusal(person({ channel: 'd1', isDm: true, space: undefined }))).toBeUndefined();
  });

  it('asks for an allowed role unless the person is an admin, by the platform or an admin role', async () => {
    const policy = new AccessPolicy({ roles: ['editors'], adminRoles: ['admins'] }, server);
    expect(policy.refusal(person())).toBe('You need one of the roles allowed to request edits; ask a server admin.');
    expect([policy.refusal(person({ roles: ['editors'] })), policy.refusal(person({ roles: ['admins'] })), policy.refusal(person({ platformAdmin: true }))]).toEqual([undefined, undefined, undefined]);
    expect([policy.isAdmin(person({ roles: ['admins'] })), policy.isAdmin(person({ roles: ['editors'] }))]).toEqual([true, false]);
    const told: string[] = [];
    expect(await policy.admits(person(), async (text) => told.push(text))).toBe(false);
    expect(told).toEqual(['You need one of the roles allowed to request edits; ask a server admin.']);
  });
});

describe('truncate', () => {
  const discord = { marker: '**', spansLines: true };
  const slack = { marker: '*', spansLines: false };

  it('keeps text within the limit as it is, and never cuts a surrogate pair or a <…> token', () => {
    expect(truncate('short', 10, discord)).toBe('short');
    const emoji = truncate(`${'a'.repeat(6)}😀😀😀`, 10, discord);
    expect(emoji.length).toBeLessThanOrEqual(10);
    expect(emoji.endsWith('…')).toBe(true);
    expect(/[\ud800-\udbff]…$/.test(emoji)).toBe(false);
    expect(truncate(`${'a'.repeat(10)} <t:1893456000:R> more`, 20, discord)).toBe(`${'a'.repeat(10)} …`);
  });

  it('closes a bold the cut leaves open: across lines for Discord, within the line for Slack', () => {
    expect(truncate(`**bold\n${'b'.repeat(30)}**`, 20, discord)).toMatch(/\*\*…$/);
    expect(truncate(`*bold*\n*${'b'.repeat(30)}*`, 20, slack)).toMatch(/^\*bold\*\n\*b+\*…$/);
    expect(truncate(`*bold\n${'b'.repeat(30)}`, 20, slack)).toMatch(/b…$/);
  });
});

describe('fitMessage', () => {
  async function noise(width: number, height: number): Promise<Buffer> {
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919) % 251;
    return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
  }

  const message = (data: Buffer, text = 'Done.'): ChatMessage => ({ text, images: [{ name: 'edit.png', data, contentType: 'image/png', alt: 'edit', placement: 'result' }], buttons: [], final: true });

  it('leaves a message within the limits as it is', async () => {
    const data = await noise(32, 32);
    const fitted = await fitMessage(message(data), { fileBytes: data.length, messageBytes: data.length });
    expect(fitted.note).toBeUndefined();
    expect(fitted.message.images[0].data).toBe(data);
  });

  it('re-encodes what is over the limit once, with one note, replacing a note the text already had', async () => {
    const data = await noise(200, 150);
    const earlier = 'The PNG is over the upload limit here, so this is a JPEG at 100×75.';
    const fitted = await fitMessage(message(data, `Done.\n${earlier}`), { fileBytes: Math.floor(data.length / 4) }, 'Discord');
    const [image] = fitted.message.images;
    expect([image.name, image.contentType]).toEqual(['edit.jpg', 'image/jpeg']);
    expect(image.data.length).toBeLessThanOrEqual(Math.floor(data.length / 4));
    const { width, height } = await sharp(image.data).metadata();
    expect(fitted.message.text).toBe('Done.');
    expect(fitted.note).toBe(`The image was sent as a smaller JPEG (${width}×${height}) to fit Discord’s upload limit.`);
  });

  it('shares a per-message total among the images in proportion to their sizes', async () => {
    const [big, small] = [await noise(120, 120), await noise(60, 60)];
    const two: ChatMessage = { ...message(big), images: [...message(big).images, { name: 'masks.png', data: small, contentType: 'image/png', alt: 'masks', placement: 'inline' }] };
    const total = Math.floor((big.length + small.length) / 2);
    const fitted = await fitMessage(two, { fileBytes: big.length, messageBytes: total });
    expect(fitted.message.images.reduce((sum, image) => sum + image.data.length, 0)).toBeLessThanOrEqual(total);
    expect(fitted.note).toMatch(/^The PNG is over the upload limit here, so this is a JPEG/);
  });
});

describe('downloadFile', () => {
  const words = { noAddress: 'no address', notHosted: 'not hosted', unreachable: 'unreachable', refused: 'refused', verb: 'share', webPage: { page: 'a web page', notAnImage: 'not an image' } };
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]);
  const source = (answer: (url: string, init?: RequestInit) => Response): FileSource & { seen: Array<{ url: string; authorization: string | null }> } => {
    const seen: Array<{ url: string; authorization: string | null }> = [];
    return {
      hosts: ['files.example', '127.0.0.1:9'],
      platformHosts: ['files.example'],
      bearer: 'xoxb-secret',
      words,
      seen,
      fetch: async (input, init) => {
        seen.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
        // Never followed: a redirect comes back as an answer, and is refused (see test/photo-formats.test.ts).
        expect(init?.redirect).toBe('manual');
        return answer(String(input), init);
      },
    };
  };

  it('reads only from the allowed hosts, the platform’s over https only, with the bearer token', async () => {
    const files = source(() => new Response(png, { headers: { 'content-type': 'image/png' } }));
    expect(await downloadFile('https://files.example/a.png', 1000, files)).toEqual(png);
    expect(files.seen).toEqual([{ url: 'https://files.example/a.png', authorization: 'Bearer xoxb-secret' }]);
    expect((await downloadFile('http://127.0.0.1:9/a.png', 1000, files)).length).toBe(png.length);
    for (const url of ['http://files.example/a.png', 'https://elsewhere.example/a.png', 'ftp://127.0.0.1:9/a.png']) {
      expect([(await rejection(downloadFile(url, 1000, files))).message]).toEqual(['not hosted']);
    }
    expect((await rejection(downloadFile('not a url', 1000, files))).message).toBe('no address');
  });

  it('says a web page came back instead of the image, refuses what is not an image, and caps the size', async () => {
    const page = source(() => new Response('<!DOCTYPE html><html></html>', { headers: { 'content-type': 'text/html' } }));
    expect((await rejection(downloadFile('https://files.example/a.png', 1000, page))).message).toBe('a web page');
    const text = source(() => new Response('hello, not an image'));
    expect((await rejection(downloadFile('https://files.example/a.png', 1000, text))).message).toBe('not an image');
    const big = source(() => new Response(Buffer.alloc(2 * 1024 * 1024)));
    expect((await rejection(downloadFile('https://files.example/a.png', 1024 * 1024, big))).message).toBe('The image is larger than 1.0 MB; share a smaller one.');
    const down = source(() => new Response('no', { status: 503 }));
    expect((await rejection(downloadFile('https://files.example/a.png', 1000, down))).message).toBe('refused');
  });
});

describe('the mapping of events', () => {
  const event: ChatEvent = { platform: 'slack', user: 'U1', isAdmin: false, channel: 'C1', thread: '1.1', replyPrivately: async () => {}, postStatus: async () => ({ platform: 'slack', channel: 'C1', message: '2.2', thread: '1.1' }) };

  it('strips the bot’s mentions in every form and extra white space, and nothing else', () => {
    expect(withoutMentions('<@U0BOT> turn  the dog <@!U0BOT>\n into a <@U0BOT|gas> tiger <@U2>', 'U0BOT')).toBe('turn the dog into a tiger <@U2>');
  });

  it('makes an IncomingEdit and an IncomingButton from one description of the event', () => {
    expect(editRequest(event, { text: 'x into y', message: '1.1' }, true)).toMatchObject({ platform: 'slack', user: 'U1', channel: 'C1', thread: '1.1', text: 'x into y', options: {}, message: '1.1', messageIsRequest: true });
    expect(buttonPress(event, 'gas:undo:job-7', '2.2')).toMatchObject({ action: 'undo', jobId: 'job-7', status: { platform: 'slack', channel: 'C1', message: '2.2', thread: '1.1' } });
    expect(buttonPress(event, 'someone-else:button', '2.2')).toBeUndefined();
  });
});
