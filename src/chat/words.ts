/** What the flow says to one person privately when something they did could not be done. */
import { GasError, isGasError } from '../errors.js';
import type { Logger } from '../log.js';
import type { IncomingBase } from './transport.js';

export const SOMETHING_WENT_WRONG = 'Something went wrong on our side; it has been logged. Please try again.';

/** A GasError's message as chat shows it: the queue names a thread's owner by id, a mention shows the person. */
export function wordedForChat(error: GasError): string {
  const owner = error.details?.owner;
  if (error.code === 'not_allowed' && typeof owner === 'string') return error.message.replace(owner, `<@${owner}>`);
  return error.message;
}

/** Tells the person what went wrong, in words for people; details go to the log only. */
export async function tellPrivately(incoming: IncomingBase, error: unknown, logger: Logger): Promise<void> {
  // A GasError's message is written for people; anything else is ours to read in the log.
  const text = isGasError(error) ? wordedForChat(error) : SOMETHING_WENT_WRONG;
  if (!isGasError(error)) logger.error({ err: error, user: incoming.user }, 'a chat event failed');
  try {
    await incoming.replyPrivately(text);
  } catch (replyError) {
    logger.warn({ err: replyError }, 'could not reply privately');
  }
}
