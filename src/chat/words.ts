/** What the flow says to one person privately when something they did could not be done. */
import { GasError, isGasError } from '../errors.js';
import type { Logger } from '../log.js';
import type { IncomingBase } from './transport.js';

export const SOMETHING_WENT_WRONG = 'Something went wrong on our side; it has been logged. Please try again.';

/** A GasError's message as chat shows it: the thread history names people by id, a mention shows them. */
export function wordedForChat(error: GasError): string {
  if (error.code !== 'not_allowed') return error.message;
  let text = error.message;
  for (const field of ['owner', 'latestBy']) {
    const id = error.details?.[field];
    if (typeof id === 'string') text = text.replace(id, `<@${id}>`);
  }
  return text;
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
