/**
 * Issue 14, "How we will know", on Slack: a conversation between people as they have it, through
 * the real Bolt and the chat flow against the fake Slack, with a colour-world worker on real Redis.
 * Two people in one thread and a third who may not undo; a long edit ahead of a short one (its
 * steps asked for in the request); the ping when an edit ends, once, across a restart; Undo pressed
 * twice quickly and twice slowly; Retry after Undo; a DM follow-up without a photo; the masks
 * uploaded once. Every wait has a generous deadline and fails with what the fake recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodePng } from '../src/image/decode.js';
import { ThreadHistory } from '../src/jobs/thread-history.js';
import type { WireMessage } from './fakes/slack/index.js';
import { PALETTE, fractionOfWay, meanColour, pngToRgb, sceneImage } from './helpers/colour-world.js';
import { botButtons, isPing, isThreadIntro, jobIdOf, shownFileIds, startSlackBot, textLines, type SlackBot, type SlackBotOptions } from './helpers/slack-bot.js';

const EDIT_INTERVAL_MS = 1_000;
const isDone = (m: WireMessage) => /^Done in /.test(textLines(m)[1] ?? '');
const isEditing = (m: WireMessage) => (textLines(m)[1] ?? '').startsWith('Editing · ');
const scene = async () => ({ name: 'scene.png', data: await encodePng(await sceneImage()) });
/** The job a status message's buttons name; undefined for a note without buttons (Undo's). */
const jobOf = (m: WireMessage) => (botButtons(m).length > 0 ? jobIdOf(m) : undefined);

let bot: SlackBot | undefined;
afterEach(async () => {
  await bot?.close();
  bot = undefined;
});

async function start(options: SlackBotOptions = {}): Promise<SlackBot> {
  bot = await startSlackBot({ worker: { defaultSteps: 40 }, ...options, transport: { editIntervalMs: EDIT_INTERVAL_MS, ...options.transport } });
  return bot;
}

describe('a conversation on Slack (issue 14)', { timeout: 240_000 }, () => {
  const until = <T>(what: string, probe: () => T | undefined | false | null, timeoutMs = 90_000) => bot!.fake.waitFor(probe, { describe: `${what}${bot!.report()}`, timeoutMs });
  const general = () => bot!.fake.channels.general;
  /** The bot's notes in a thread that start with `prefix` ("Went back one edit"). */
  const notes = (thread: string, prefix: string, channel = general()) => bot!.fake.messages(channel).filter((m) => m.user === bot!.fake.botUserId && m.thread_ts === thread && m.text.startsWith(prefix));
  const press = (user: string, status: WireMessage, action: string, channel = general()) => bot!.fake.pressButton({ user, channel, ts: status.ts, actionId: `gas:${action}:${jobIdOf(status)}` });
  const reply = (user: string, thread: string, text: string) => bot!.fake.postMessage({ user, channel: general(), thread_ts: thread, text });

  it("lets two people edit in one thread: B's Undo of B's step, A's Undo on B's status; a third person is refused privately with the names", async () => {
    const b = await start();
    const { alice, bob, carol } = b.fake.users;
    const { ts } = b.mention('turn the dog into a tiger', [await scene()]);
    await b.untilStatus(ts, 0, isDone, 'the first edit');
    expect(b.fake.messages(general()).filter((m) => m.thread_ts === ts && isThreadIntro(m))).toHaveLength(1);

    reply(bob, ts, 'turn the grass into snow');
    const second = await b.untilStatus(ts, 1, isDone, "bob's edit");
    await press(bob, second, 'undo');
    await until("bob's undo of his own step", () => notes(ts, 'Went back one edit').length === 1);

    reply(bob, ts, 'make the sky pink');
    const third = await until("bob's second edit", () => b.statuses(ts).find((m) => jobOf(m) !== undefined && jobOf(m) !== jobOf(second) && isDone(m) && textLines(m)[0].endsWith('make the sky pink')));
    await press(carol, third, 'undo');
    const refusal = await until("the refusal of carol's undo", () => b.fake.ephemerals.find((e) => e.user === carol));
    expect(refusal).toMatchObject({ thread_ts: ts, text: `Only <@${alice}> (who started this thread), <@${bob}> (who made the latest edit) or an admin can undo it.` });
    expect(notes(ts, 'Went back one edit')).toHaveLength(1);

    await press(alice, third, 'undo');
    await until("alice's undo on bob's status (she started the thread)", () => notes(ts, 'Went back one edit').length === 2);
    expect(b.fake.violations, b.report()).toEqual([]);
  });

  it('says a short edit behind a long one is queued, with its place, and shows its plan only once a worker takes it', async () => {
    const b = await start();
    const { alice, bob } = b.fake.users;
    const long = b.mention('turn the dog into a tiger steps=10000', [await scene()]).ts;
    const running = await b.untilStatus(long, 0, isEditing, 'the long edit running');
    const { ts: short } = b.fake.postMessage({ user: bob, channel: general(), text: `<@${b.fake.botUserId}> turn the grass into snow steps=20`, files: [await scene()] });
    const queued = await b.untilStatus(short, 0, () => true, 'the short edit');
    expect(textLines(queued)[1], b.report()).toMatch(/^Queued · 2nd in line · starts <!date\^\d+\^at \{time\}\|at [^>]+>$/);
    await new Promise((r) => setTimeout(r, 3_000));
    const waitingWrites = b.writesOf(short, 0);
    for (const write of waitingWrites) expect(String(write.params.text).split('\n').slice(1).join('\n'), b.report()).not.toMatch(/^(Planning|Finding|Editing|1 · )/m);

    await press(alice, running, 'cancel');
    const done = await b.untilStatus(short, 0, isDone, 'the short edit, once the long one is cancelled');
    expect(textLines(done)[2]).toBe('1 · the grass → the snow');
    // It asked for 20 steps in its text: the job has them, and the text the planner read does not.
    const record = JSON.parse((await b.queue.redis.get(b.queue.keys.chatJob(jobIdOf(done))))!) as { options: { steps?: number }; request: string };
    expect([record.options.steps, record.request]).toEqual([20, 'turn the grass into snow']);
  });

  it('pings the requester, and only them, with a thread reply when a long edit ends, once across a restart of the bot', async () => {
    const b = await start({ worker: { defaultSteps: 600 }, flow: { notifyAfterMs: 500 } });
    const { alice, bob } = b.fake.users;
    // Mentions in the request are echoed in the status, where they must ping nobody.
    const { ts } = b.mention(`turn the dog into a tiger <!channel> <@${bob}>`, [await scene()]);
    const status = await b.untilStatus(ts, 0, isEditing, 'the edit running');
    await b.stopBot();
    await until('the edit to end while no bot runs', async () => (await b.queue.queue.events.ended(jobIdOf(status))) || undefined, 120_000);
    await b.startBot();
    await b.untilStatus(ts, 0, isDone, 'the result after the restart');
    const pings = () => b.fake.messages(general()).filter((m) => m.thread_ts === ts && isPing(m));
    await until('the ping', () => pings().length > 0);
    await b.startBot(); // restarted once more: no second ping
    await new Promise((r) => setTimeout(r, 2_000));
    expect(pings(), b.report()).toHaveLength(1);
    expect(pings()[0].text).toBe(`<@${alice}> edit 1 is done: the result is in its status message.`);
    expect(b.fake.notifications).toEqual([{ channel: general(), ts: pings()[0].ts, users: [alice], groups: [] }]);
  });

  it('steps back twice for a second Undo two seconds after the first, and once for a double click', async () => {
    const b = await start();
    const { alice } = b.fake.users;
    const { ts } = b.mention('turn the dog into a tiger', [await scene()]);
    await b.untilStatus(ts, 0, isDone, 'edit 1');
    reply(alice, ts, 'turn the grass into snow');
    await b.untilStatus(ts, 1, isDone, 'edit 2');
    reply(alice, ts, 'make the sky pink');
    const third = await b.untilStatus(ts, 2, isDone, 'edit 3');
    const history = new ThreadHistory(b.queue.redis, b.queue.keys);
    const id = { platform: 'slack', channel: general(), thread: ts };
    expect(await history.chain(id)).toHaveLength(3);

    await Promise.all([press(alice, third, 'undo'), press(alice, third, 'undo')]); // a double click
    await until('the undo', () => notes(ts, 'Went back one edit').length === 1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(notes(ts, 'Went back one edit'), b.report()).toHaveLength(1);
    expect(await history.chain(id)).toHaveLength(2);

    await press(alice, third, 'undo'); // two seconds later: a press of its own
    await until('the second undo', () => notes(ts, 'Went back one edit').length === 2);
    expect(await history.chain(id)).toHaveLength(1);
  });

  it('reruns the undone step on Retry after Undo', async () => {
    const b = await start();
    const { alice } = b.fake.users;
    const { ts } = b.mention('turn the dog into a tiger', [await scene()]);
    await b.untilStatus(ts, 0, isDone, 'edit 1');
    reply(alice, ts, 'turn the grass into snow');
    const second = await b.untilStatus(ts, 1, isDone, 'edit 2');
    await press(alice, second, 'undo');
    await until('the undo', () => notes(ts, 'Went back one edit').length === 1);
    await press(alice, second, 'retry');
    const rerun = await until('the rerun', () => b.statuses(ts).find((m) => jobOf(m) !== undefined && jobOf(m) !== jobOf(second) && textLines(m)[0].endsWith(': turn the grass into snow') && isDone(m)));
    const share = await until('the rerun result', () => b.sharedFiles(ts)[2]);
    const result = await pngToRgb(b.fake.fileBytes(share.files![0])!);
    expect(fractionOfWay(meanColour(result, 'dog'), PALETTE.brown, PALETTE.orange), b.report()).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(result, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
    expect(rerun.thread_ts).toBe(ts);
  });

  it("continues the DM's latest result on a follow-up without a photo, as Discord's DMs do (issue 14, defect 7)", async () => {
    const b = await start();
    const dm = b.fake.channels.dm;
    const inDm = () => b.fake.messages(dm).filter((m) => m.user === b.fake.botUserId && m.subtype === undefined && !isThreadIntro(m) && !isPing(m));
    const first = b.fake.postMessage({ user: b.fake.users.alice, channel: dm, text: 'turn the dog into a tiger', files: [await scene()] });
    await until('the first edit in the DM', () => inDm().find((m) => m.thread_ts === first.ts && isDone(m)));
    const follow = b.fake.postMessage({ user: b.fake.users.alice, channel: dm, text: 'now turn the grass into snow' });
    const second = await until('the follow-up edit', () => inDm().find((m) => m.thread_ts === follow.ts && isDone(m)));
    expect(textLines(second)[0]).toBe('*Edit 2*: now turn the grass into snow');
    expect(b.fake.ephemerals, b.report()).toEqual([]);
    const share = await until('its result', () => b.fake.messages(dm).find((m) => m.subtype === 'file_share' && m.thread_ts === follow.ts));
    const result = await pngToRgb(b.fake.fileBytes(share.files![0])!);
    expect(fractionOfWay(meanColour(result, 'dog'), PALETTE.brown, PALETTE.orange), b.report()).toBeGreaterThanOrEqual(0.8);
    expect(fractionOfWay(meanColour(result, 'grass'), PALETTE.green, PALETTE.white)).toBeGreaterThanOrEqual(0.8);
  });

  it('uploads the masks once per edit, however often the status is updated while they show', async () => {
    // Long enough for several updates at the pace of one status under the workspace's budget (about 1.5 s).
    const b = await start({ worker: { defaultSteps: 1200 } });
    const { ts } = b.mention('turn the dog into a tiger and the grass into snow', [await scene()]);
    await b.untilStatus(ts, 0, isDone, 'the edit');
    const masksUploads = b.fake.requests.filter((r) => r.method === 'files.getUploadURLExternal' && r.params.filename === 'masks.png');
    const showingMasks = b.writesOf(ts, 0).filter((w) => shownFileIds(w).some((id) => b.fake.file(id)?.name === 'masks.png'));
    expect(showingMasks.length, b.report()).toBeGreaterThanOrEqual(2);
    expect(masksUploads, b.report()).toHaveLength(1);
  });
});
