/**
 * Issue 14, "How we will know", on Discord: a conversation between people as they have it, through
 * the real discord.js and the chat flow (the bot process's code) against the fake Discord, with a
 * colour-world worker on real Redis. Two people in one thread and a third who may not undo; a long
 * edit ahead of a short one; the ping when an edit ends, once, across a restart; Undo pressed twice
 * quickly and twice slowly; Retry after Undo; the masks uploaded once per status. Every wait has a
 * generous deadline and fails with what the fake recorded and the bot's log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodePng } from '../src/image/decode.js';
import { ThreadHistory } from '../src/jobs/thread-history.js';
import type { WireMessage } from './fakes/discord/index.js';
import { PALETTE, fractionOfWay, meanColour, sceneImage } from './helpers/colour-world.js';
import { attachedImage, discordBotHarness, isDone, jobIdOf, privateReplies, stateLine, statusWrites, type DiscordBotHarness } from './helpers/discord-bot.js';

const STEPS = 40;
const photo = async () => ({ name: 'scene.png', data: await encodePng(await sceneImage()), contentType: 'image/png' });

let bot: DiscordBotHarness | undefined;
afterEach(async () => {
  await bot?.close();
  bot = undefined;
});

describe('a conversation on Discord (issue 14)', { timeout: 240_000 }, () => {
  const fake = () => bot!.fake;
  const log = () => bot!.report();

  async function until<T>(what: string, probe: () => T | undefined | false | null, timeoutMs = 90_000): Promise<T> {
    return fake().waitFor(probe, { describe: `${what}${log()}`, timeoutMs });
  }

  /** The bot's status messages (with buttons) in a channel or thread, oldest first. */
  const statuses = (channel: string) => fake().messages(channel).filter((m) => m.author.id === fake().users.bot.id && jobIdOf(m));

  /** `/edit` by a person with the scene; its status message. */
  async function slashEdit(user = fake().users.alice, request = 'turn the dog into a tiger', steps = STEPS): Promise<WireMessage> {
    const before = statuses(fake().channelId).length;
    fake().slashCommand({ user, options: { image: await photo(), request, steps } });
    return until(`the status of "${request}"`, () => statuses(fake().channelId)[before]);
  }

  /** A reply that mentions the bot in the thread, by `user`; the status it starts. */
  async function reply(thread: string, user: WireMessage['author'], text: string): Promise<WireMessage> {
    const before = statuses(thread).length;
    const botUser = fake().users.bot;
    fake().postMessage({ user, channelId: thread, content: `<@${botUser.id}> ${text}`, mentions: [botUser] });
    return until(`the status of the reply "${text}"`, () => statuses(thread)[before]);
  }

  const done = (message: WireMessage, what: string) => until(what, () => isDone(fake().message(message.id)?.content ?? '') && fake().message(message.id));
  const press = (user: WireMessage['author'], status: WireMessage, action: string) => fake().pressButton({ user, messageId: status.id, customId: `gas:${action}:${jobIdOf(status)}` });
  const notes = (thread: string, prefix: string) => fake().messages(thread).filter((m) => m.author.id === fake().users.bot.id && m.content.startsWith(prefix));

  it("lets two people edit in one thread: B's Undo of B's step, A's Undo on B's status; a third person is refused privately with the names", async () => {
    bot = await discordBotHarness();
    const { alice, bob, dave } = fake().users;
    const first = await slashEdit(alice);
    await done(first, 'the first edit');
    const thread = await until('the thread, opened by its first line', () => fake().channel(first.id)?.id as string | undefined);
    expect(notes(thread, 'Reply in this thread')).toHaveLength(1);

    const second = await reply(thread, bob, 'turn the grass into snow');
    await done(second, "bob's edit");
    press(bob, second, 'undo');
    await until("bob's undo of his own step", () => notes(thread, 'Went back one edit').length === 1);

    const third = await reply(thread, bob, 'make the sky pink');
    await done(third, "bob's second edit");
    press(dave, third, 'undo');
    const refusal = await until("the refusal of dave's undo", () => privateReplies(fake()).find((text) => text.startsWith('Only')));
    expect(refusal).toBe(`Only <@${alice.id}> (who started this thread), <@${bob.id}> (who made the latest edit) or an admin can undo it.`);
    expect(notes(thread, 'Went back one edit')).toHaveLength(1);

    press(alice, third, 'undo');
    await until("alice's undo on bob's status (she started the thread)", () => notes(thread, 'Went back one edit').length === 2);
    expect(fake().violations, log()).toEqual([]);
  });

  it('says a short edit behind a long one is queued, with its place, and shows its plan only once a worker takes it', async () => {
    bot = await discordBotHarness();
    const long = await slashEdit(fake().users.alice, 'turn the dog into a tiger', 10_000);
    await until('the long edit running', () => /^Editing · /.test(stateLine(fake().message(long.id)?.content ?? '')));
    const short = await slashEdit(fake().users.bob, 'turn the grass into snow', 20);
    expect(stateLine(short.content), log()).toMatch(/^Queued · 2nd in line · starts <t:\d+:R>$/);
    // While the long edit runs, the short one's status says nothing of its plan.
    await new Promise((r) => setTimeout(r, 3_000));
    const waiting = statusWrites(fake(), short.id);
    for (const write of waiting) expect(write.content.split('\n').slice(1).join('\n'), log()).not.toMatch(/^(Planning|Finding|Editing|1 · )/m);
    expect(stateLine(fake().message(short.id)!.content)).toMatch(/^Queued · /);

    press(fake().users.alice, long, 'cancel');
    const finished = await done(short, 'the short edit, once the long one is cancelled');
    expect(finished.content.split('\n')[2]).toBe('1 · the grass → the snow');
    expect(statusWrites(fake(), short.id).slice(waiting.length).some((w) => /^(Editing|Done)/.test(stateLine(w.content))), log()).toBe(true);
  });

  it('pings the requester, and only them, with a new message when a long edit ends, once across a restart of the bot', async () => {
    bot = await discordBotHarness({ flow: { notifyAfterMs: 500 } });
    const { alice, bob } = fake().users;
    // Mentions in the request are echoed in the status (and its plan), where they must ping nobody.
    const request = `turn the dog into a tiger @everyone <@&${fake().roles.editors}> <@${bob.id}>`;
    const status = await slashEdit(alice, request, 600);
    await until('the edit running', () => /^Editing · /.test(stateLine(fake().message(status.id)?.content ?? '')));
    await bot.stopBot();
    await until('the edit to end while no bot runs', async () => (await bot!.queue.queue.events.ended(jobIdOf(status)!)) || undefined, 120_000).catch(async () => {
      throw new Error(`the edit did not end${log()}`);
    });
    await bot.startBot();
    await done(status, 'the result after the restart');
    const thread = status.id;
    const pings = () => fake().messages(thread).filter((m) => m.content.startsWith(`<@${alice.id}>`));
    await until('the ping', () => pings().length > 0);
    // Once more: a bot that starts again pings no more.
    await bot.stopBot();
    await bot.startBot();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(pings(), log()).toHaveLength(1);
    const [ping] = pings();
    expect(ping.content).toBe(`<@${alice.id}> edit 1 is done: the result is in its status message.`);
    const sent = fake().requests.find((r) => r.method === 'POST' && r.path === `/channels/${thread}/messages` && r.json.content === ping.content)!;
    expect(sent.json.allowed_mentions).toEqual({ users: [alice.id] });
    // What a real client would have notified, of everything the bot sent: alice, once.
    expect(fake().notifications.map((n) => [n.messageId, n.users, n.roles, n.everyone])).toEqual([[ping.id, [alice.id], [], false]]);
  });

  it('steps back twice for a second Undo two seconds after the first, and once for a double click', async () => {
    bot = await discordBotHarness();
    const { alice } = fake().users;
    const first = await slashEdit(alice);
    await done(first, 'edit 1');
    const thread = await until('the thread', () => fake().channel(first.id)?.id as string | undefined);
    await done(await reply(thread, alice, 'turn the grass into snow'), 'edit 2');
    const third = await reply(thread, alice, 'make the sky pink');
    await done(third, 'edit 3');
    const history = new ThreadHistory(bot.queue.redis, bot.queue.keys);
    const id = { platform: 'discord', channel: fake().channelId, thread: first.id };
    expect(await history.chain(id)).toHaveLength(3);

    press(alice, third, 'undo');
    press(alice, third, 'undo'); // a double click
    await until('the undo', () => notes(thread, 'Went back one edit').length === 1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(notes(thread, 'Went back one edit'), log()).toHaveLength(1);
    expect(await history.chain(id)).toHaveLength(2);

    press(alice, third, 'undo'); // two seconds later: a press of its own
    await until('the second undo', () => notes(thread, 'Went back one edit').length === 2);
    expect(await history.chain(id)).toHaveLength(1);
  });

  it('reruns the undone step on Retry after Undo', async () => {
    bot = await discordBotHarness();
    const { alice } = fake().users;
    const first = await slashEdit(alice);
    await done(first, 'edit 1');
    const thread = await until('the thread', () => fake().channel(first.id)?.id as string | undefined);
    const second = await reply(thread, alice, 'turn the grass into snow');
    await done(second, 'edit 2');
    press(alice, second, 'undo');
    await until('the undo', () => notes(thread, 'Went back one edit').length === 1);
    press(alice, second, 'retry');
    const rerun = await until('the rerun', () => statuses(thread).find((m) => m.id !== second.id && m.content.split('\n')[0].endsWith(': turn the grass into snow')));
    const result = await attachedImage(fake(), await done(rerun, 'the rerun'), 'edit.png');
    // The undone step again, on the tiger: both changes are there.
    expect(fractionOfWay(meanColour(result, 'dog'), PALETTE.brown, PALETTE.orange), log()).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(result, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
  });

  it('uploads the masks once per status message, however often the status is edited while they show (issue 14, defect 9)', async () => {
    bot = await discordBotHarness();
    // Long enough for several edits at Discord's pace (1 s here), however fast the machine.
    const status = await slashEdit(fake().users.alice, 'turn the dog into a tiger and the grass into snow', 1200);
    await done(status, 'the edit');
    const writes = fake().requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/messages/${status.id}`) && r.status === 200);
    const showingMasks = writes.filter((r) => (r.json?.embeds ?? []).some((e: { image?: { url?: string } }) => e.image?.url === 'attachment://masks.png'));
    expect(showingMasks.length, log()).toBeGreaterThanOrEqual(2);
    expect(writes.flatMap((r) => r.files).filter((f) => f.name === 'masks.png'), log()).toHaveLength(1);
  });
});
