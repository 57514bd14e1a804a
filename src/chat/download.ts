/**
 * Reading a platform's file download under a size cap: the declared length is checked first, then
 * the stream is counted as it arrives and cut past `maxBytes`, so a person cannot make the bot
 * hold more than the cap in memory. Shared by the adapters; each says "too large" in its own words.
 */
export async function readCapped(body: ReadableStream<Uint8Array>, headers: Headers, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const declared = Number(headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await body.cancel();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}
