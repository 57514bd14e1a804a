/**
 * Discord's error bodies and codes, as the REST API sends them (status, JSON code, message):
 * discord/discord-api-docs developers/topics/opcodes-and-status-codes.mdx, "JSON Error Codes".
 */
export interface DiscordError {
  status: number;
  code: number;
  message: string;
  errors?: Record<string, unknown>;
}

export const UNKNOWN_INTERACTION: DiscordError = { status: 404, code: 10062, message: 'Unknown interaction' };
export const ALREADY_ACKNOWLEDGED: DiscordError = { status: 400, code: 40060, message: 'Interaction has already been acknowledged.' };
export const INVALID_WEBHOOK_TOKEN: DiscordError = { status: 401, code: 50027, message: 'Invalid Webhook Token' };
export const ENTITY_TOO_LARGE: DiscordError = { status: 413, code: 40005, message: 'Request entity too large' };
export const UNAUTHORIZED: DiscordError = { status: 401, code: 0, message: '401: Unauthorized' };
export const UNKNOWN_MESSAGE: DiscordError = { status: 404, code: 10008, message: 'Unknown Message' };
export const UNKNOWN_CHANNEL: DiscordError = { status: 404, code: 10003, message: 'Unknown Channel' };
export const EMPTY_MESSAGE: DiscordError = { status: 400, code: 50006, message: 'Cannot send an empty message' };
export const CANNOT_EDIT_OTHERS: DiscordError = { status: 403, code: 50005, message: 'Cannot edit a message authored by another user' };
export const THREAD_EXISTS: DiscordError = { status: 400, code: 160004, message: 'A thread has already been created for this message' };
export const WRONG_CHANNEL_TYPE: DiscordError = { status: 400, code: 50024, message: 'Cannot execute action on this channel type' };
export const NOT_FOUND: DiscordError = { status: 404, code: 0, message: '404: Not Found' };
export const MISSING_ACCESS: DiscordError = { status: 403, code: 50001, message: 'Missing Access' };
export const MISSING_PERMISSIONS: DiscordError = { status: 403, code: 50013, message: 'Missing Permissions' };

/** One field error inside a 50035 "Invalid Form Body". */
export interface FieldError {
  /** Dotted path as Discord nests it, e.g. `components.0.components.1.custom_id`. */
  path: string;
  code: string;
  message: string;
}

/** Discord nests field errors by path, each leaf holding `_errors`. */
export function invalidFormBody(fieldErrors: FieldError[]): DiscordError {
  const errors: Record<string, any> = {};
  for (const { path, code, message } of fieldErrors) {
    let node = errors;
    for (const key of path.split('.')) node = node[key] ??= {};
    (node._errors ??= []).push({ code, message });
  }
  return { status: 400, code: 50035, message: 'Invalid Form Body', errors };
}

export function errorBody(error: DiscordError): Record<string, unknown> {
  return { message: error.message, code: error.code, ...(error.errors ? { errors: error.errors } : {}) };
}
