/**
 * What people send the bot: an edit request (`/edit`, a mention with a photo, a message menu),
 * and messages in its edit threads, which continue the thread's latest result. Each becomes one
 * job, however often the platform delivers the same message. While a job of the thread waits at
 * its check, a message there without a photo is first offered to the check (check-replies.ts).
 */
import { GasError } from '../errors.js';
import { MAX_SEED } from '../distill/modes.js';
import type { CheckMode, EditJobOptions } from '../jobs/contracts.js';
import { CheckReplies } from './check-replies.js';
import type { ChatContext } from './context.js';
import { startJob } from './job-start.js';
import { downloadPhoto } from './photo.js';
import type { StatusFollower } from './status-follower.js';
import type { IncomingEdit, IncomingMessage } from './transport.js';
import { tellPrivately } from './words.js';

export class Intake {
  private readonly checks: CheckReplies;

  constructor(
    private readonly context: ChatContext,
    private readonly follower: StatusFollower,
  ) {
    this.checks = new CheckReplies(context);
  }

  async editRequest(request: IncomingEdit): Promise<void> {
    const { dedupe, records, platform, config, logger } = this.context;
    try {
      // A redelivered message (retry, redelivery, app_mention + message) was handled by its first delivery.
      if (request.message && request.messageIsRequest && !(await dedupe.claim({ platform, channel: request.channel, thread: request.thread, message: request.message }))) return;
      const known = await records.editThread(platform, request.thread);
      // Without a photo, a request in one of our threads continues it; anywhere else it has nothing to edit.
      if (!request.image && !known) throw new GasError('bad_input', 'Attach the image to edit: a request needs a photo to work on.');
      // …unless it answers a check waiting there ("go", "1 is the dog on the left").
      if (!request.image && known && (await this.checks.handle(known.thread, request))) return;
      const options = pickOptions(request.options, config.maxSteps);
      const photo = request.image ? await downloadPhoto(request.image, config.maxImageBytes, logger) : undefined;
      await startJob(this.context, this.follower, {
        thread: known?.thread ?? { platform, channel: request.channel, thread: request.thread },
        user: request.user,
        isAdmin: request.isAdmin,
        text: request.text,
        options: { ...stepsOf(known), ...options },
        photo,
        message: request.message,
        ...(request.options.check !== undefined ? { check: checkOf(request.options.check) } : {}),
        postStatus: (m) => request.postStatus(m),
      });
    } catch (error) {
      await tellPrivately(request, error, logger);
    }
  }

  async threadMessage(message: IncomingMessage): Promise<void> {
    const { dedupe, records, platform, config, logger } = this.context;
    try {
      if (message.thread === undefined) return;
      const known = await records.editThread(platform, message.thread);
      if (!known) return; // not a conversation of ours
      if (!(await dedupe.claim({ platform, channel: message.channel, thread: message.thread, message: message.message }))) return;
      if (!message.image && (await this.checks.handle(known.thread, message))) return;
      const photo = message.image ? await downloadPhoto(message.image, config.maxImageBytes, logger) : undefined;
      await startJob(this.context, this.follower, {
        thread: known.thread,
        user: message.user,
        isAdmin: message.isAdmin,
        text: message.text,
        options: stepsOf(known),
        photo,
        message: message.message,
        postStatus: (m) => message.postStatus(m),
      });
    } catch (error) {
      await tellPrivately(message, error, logger);
    }
  }
}

/** A request's own `check` option: check the masks always (true), or never (false). */
function checkOf(check: boolean): CheckMode {
  return check ? 'always' : 'never';
}

/** The steps a conversation's person chose, which its later edits keep (absent: the worker's default). */
function stepsOf(known: { steps?: number } | undefined): EditJobOptions {
  return known?.steps !== undefined ? { steps: known.steps } : {};
}

/** The options a person may set, checked here so that a bad one is their mistake, not ours. */
function pickOptions(options: { steps?: number; seed?: number }, maxSteps: number): EditJobOptions {
  const { steps, seed } = options;
  const whole = (value: number, name: string, max: number) => {
    if (!Number.isInteger(value) || value < (name === 'seed' ? 0 : 1) || value > max) {
      throw new GasError('bad_input', `${name} must be a whole number from ${name === 'seed' ? 0 : 1} to ${max} (got ${value}).`);
    }
    return value;
  };
  return {
    ...(steps !== undefined ? { steps: whole(steps, 'steps', maxSteps) } : {}),
    ...(seed !== undefined ? { seed: whole(seed, 'seed', MAX_SEED) } : {}),
  };
}
