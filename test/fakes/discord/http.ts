/** Reading requests and writing Discord-shaped responses on node:http. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, type DiscordError } from './errors.js';

/** One `files[n]` part of a multipart request, bytes as sent. */
export interface UploadedPart {
  field: string;
  /** The n of `files[n]`, the id `attachments` entries refer to. */
  index: number;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface ParsedBody {
  json: any;
  files: UploadedPart[];
  /** Bytes of the whole request body. */
  size: number;
}

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON or multipart/form-data (`payload_json` + `files[n]`), parsed with the platform's own FormData parser. */
export async function parseBody(raw: Buffer, contentType: string | undefined): Promise<ParsedBody> {
  if (raw.length === 0) return { json: undefined, files: [], size: 0 };
  if (contentType?.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
    let json: any;
    const files: UploadedPart[] = [];
    for (const [field, value] of form.entries()) {
      if (field === 'payload_json' && typeof value === 'string') {
        json = JSON.parse(value);
      } else if (typeof value !== 'string') {
        const index = /^files\[(\d+)\]$/.exec(field);
        files.push({
          field,
          index: index ? Number(index[1]) : -1,
          name: value.name,
          contentType: value.type,
          data: Buffer.from(await value.arrayBuffer()),
        });
      }
    }
    return { json, files, size: raw.length };
  }
  return { json: JSON.parse(raw.toString('utf8')), files: [], size: raw.length };
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204) {
    response.writeHead(204, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}

export function sendError(response: ServerResponse, error: DiscordError, headers: Record<string, string> = {}): void {
  sendJson(response, error.status, errorBody(error), headers);
}
