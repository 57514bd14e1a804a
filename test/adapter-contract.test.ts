/**
 * One suite for every adapter: the same people's events, played through each platform's driver
 * (the real discord.js or Bolt, without a network), must reach the flow as the same IncomingEdit /
 * IncomingMessage / IncomingButton, and the flow's answers must reach the platform as status
 * writes and private replies. The wire fakes and the e2e tests cover the platforms' protocols.
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../src/chat/transport.js';
import { until, type AdapterDriver, type DriverOptions, type Photo, type StartDriver } from './helpers/adapter-driver.js';
import { startDiscordDriver } from './helpers/discord-driver.js';
import { startSlackDriver } from './helpers/slack-driver.js';

const REQUEST = 'turn the dog into a tiger';

async function photo(name: string, width: number, height: number): Promise<Photo> {
  return { name, data: await sharp({ create: { width, height, channels: 3, background: { r: 30, g: 120, b: 220 } } }).png().toBuffer(), contentType: 'image/png' };
}

async function running(): Promise<ChatMessage> {
  const masks = (await photo('masks.png', 16, 16)).data;
  return { text: 'Editing: 2 changes', images: [{ name: 'masks.png', data: masks, contentType: 'image/png', alt: 'masks', placement: 'inline' }], buttons: [{ action: 'cancel', jobId: 'job-1', label: 'Cancel', style: 'danger' }], final: false };
}

async function done(): Promise<ChatMessage> {
  const result = (await photo('result.png', 24, 16)).data;
  return {
    text: 'Done.',
    images: [{ name: 'result.png', data: result, contentType: 'image/png', alt: 'The edited image', placement: 'result' }],
    buttons: [
      { action: 'retry', jobId: 'job-1', label: 'Retry', style: 'primary' },
      { action: 'undo', jobId: 'job-1', label: 'Undo', style: 'secondary' },
    ],
    final: true,
  };
}

const DRIVERS: Array<[string, StartDriver]> = [
  ['Discord', startDiscordDriver],
  ['Slack', startSlackDriver],
];

describe.each(DRIVERS)('the %s adapter', (_name, start) => {
  let driver: AdapterDriver | undefined;

  afterEach(async () => {
    await driver?.close();
    driver = undefined;
  });

  const open = async (options?: DriverOptions) => (driver = await start(options));
  const firstEdit = (d: AdapterDriver) => until(() => d.handlers.edits[0], 'editRequest');

  /** An edit request with a photo whose first status is posted, and the line that opens its thread after it, as the flow posts them: where the status lives. */
  async function editWithStatus(d: AdapterDriver) {
    await d.requestEdit(REQUEST, await photo('photo.png', 40, 30));
    const ref = await (await firstEdit(d)).request.postStatus(await running());
    await d.transport.postInThread(ref, { text: 'Reply here and what to change next; Undo steps back one edit.', images: [], buttons: [], final: true });
    return ref;
  }

  it('hands the flow an edit request with its photo, then posts its status and edits it', async () => {
    const d = await open();
    const sent = await d.requestEdit(REQUEST, await photo('photo.png', 40, 30));
    const edit = await firstEdit(d);
    expect(edit.request).toMatchObject({ platform: d.platform, user: d.people.alice, isAdmin: false, channel: d.channels.here, thread: sent.thread, text: REQUEST, options: {} });
    // A message of the person's own (Slack) is the request, which the flow de-duplicates; a command (Discord) has none.
    expect([edit.request.message, edit.request.messageIsRequest]).toEqual([sent.message, sent.message ? true : undefined]);
    expect(edit.request.image).toMatchObject({ name: 'photo.png', contentType: 'image/png' });
    expect(edit.bytes?.equals((await photo('photo.png', 40, 30)).data)).toBe(true);

    const ref = await edit.request.postStatus(await running());
    expect(ref).toMatchObject({ platform: d.platform, channel: d.channels.here, thread: sent.thread });
    await d.transport.editStatus(ref, await done());
    expect(d.statusWrites()).toEqual([
      { message: ref.message, text: 'Editing: 2 changes', buttons: ['gas:cancel:job-1'], images: ['masks.png'] },
      { message: ref.message, text: 'Done.', buttons: ['gas:retry:job-1', 'gas:undo:job-1'], images: ['result.png'] },
    ]);
    expect(d.privateReplies()).toEqual([]);
  });

  it('hands the flow a request without a photo, and answers it privately', async () => {
    const d = await open();
    const sent = await d.requestEdit('make it snow');
    const edit = await firstEdit(d);
    expect(edit.request).toMatchObject({ user: d.people.alice, channel: d.channels.here, thread: sent.thread, text: 'make it snow' });
    expect([edit.request.image, edit.bytes]).toEqual([undefined, undefined]);
    await edit.request.replyPrivately('Attach the image to edit: a request needs a photo to work on.');
    expect(d.privateReplies()).toEqual(['Attach the image to edit: a request needs a photo to work on.']);
    expect(d.statusWrites()).toEqual([]);
  });

  it('hands the flow a reply in the edit thread, the bot’s mention stripped; its status goes into the thread', async () => {
    const d = await open();
    const ref = await editWithStatus(d);
    const sent = await d.reply(ref, 'now make the sky cloudy');
    const { message, bytes } = await until(() => d.handlers.messages[0], 'threadMessage');
    expect(message).toMatchObject({ platform: d.platform, user: d.people.alice, isAdmin: false, channel: sent.channel, thread: ref.thread, message: sent.message, text: 'now make the sky cloudy' });
    expect([message.image, bytes]).toEqual([undefined, undefined]);

    const next = await message.postStatus(await running());
    expect(next).toMatchObject({ channel: sent.channel, thread: ref.thread });
    expect(d.statusWrites().at(-1)).toEqual({ message: next.message, text: 'Editing: 2 changes', buttons: ['gas:cancel:job-1'], images: ['masks.png'] });
    await message.replyPrivately('That image is too large.');
    expect(d.privateReplies()).toEqual(['That image is too large.']);
  });

  it('hands the flow a reply with a photo, downloaded', async () => {
    const d = await open();
    const ref = await editWithStatus(d);
    const sky = await photo('sky.png', 20, 20);
    await d.reply(ref, 'start over from this one', sky);
    const { message, bytes } = await until(() => d.handlers.messages[0], 'threadMessage');
    expect([message.text, message.image?.name, message.image?.contentType]).toEqual(['start over from this one', 'sky.png', 'image/png']);
    expect(bytes?.equals(sky.data)).toBe(true);
  });

  it('hands the flow a button press with the status message it was on; its private reply and new status follow', async () => {
    const d = await open();
    const ref = await editWithStatus(d);
    await d.press(ref, 'gas:cancel:job-1');
    const { press } = await until(() => d.handlers.buttons[0], 'buttonPressed');
    expect(press).toMatchObject({ platform: d.platform, user: d.people.bob, isAdmin: false, channel: ref.channel, action: 'cancel', jobId: 'job-1' });
    expect(press.status).toEqual({ platform: d.platform, channel: ref.channel, message: ref.message, thread: ref.thread });
    await press.replyPrivately(`Only <@${d.people.alice}> can cancel this edit.`);
    expect(d.privateReplies()).toEqual([`Only <@${d.people.alice}> can cancel this edit.`]);
    const retried = await press.postStatus(await running());
    expect(retried.thread).toBe(ref.thread);
    expect(d.statusWrites().at(-1)?.message).toBe(retried.message);
  });

  it('refuses privately outside the allowed channels, and the flow hears nothing', async () => {
    const d = await open({ onlyElsewhere: true });
    await d.requestEdit(REQUEST, await photo('photo.png', 8, 8));
    const [refusal] = await until(() => d.privateReplies().length > 0 && d.privateReplies(), 'the refusal');
    expect(refusal).toBe(`Edits are not enabled in this channel; use <#${d.channels.elsewhere}>.`);
    expect([d.handlers.edits, d.handlers.messages, d.statusWrites()]).toEqual([[], [], []]);
  });

  it('hands the flow a request in a direct message, and posts its status there', async () => {
    const d = await open();
    const sent = await d.requestInDm(REQUEST, await photo('photo.png', 16, 16));
    const edit = await firstEdit(d);
    expect(edit.request).toMatchObject({ platform: d.platform, user: d.people.alice, channel: sent.channel, thread: sent.thread, text: REQUEST });
    expect(sent.channel).not.toBe(d.channels.here);
    expect(edit.bytes?.length).toBeGreaterThan(0);
    const ref = await edit.request.postStatus(await running());
    expect(ref).toMatchObject({ channel: sent.channel, thread: sent.thread });
    expect(d.statusWrites()).toEqual([{ message: ref.message, text: 'Editing: 2 changes', buttons: ['gas:cancel:job-1'], images: ['masks.png'] }]);
  });
});
