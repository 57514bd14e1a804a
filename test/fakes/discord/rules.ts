/**
 * Discord's limits on a message payload (create, edit, interaction response), checked the way the
 * API checks them: every broken limit becomes a field error of one 50035 "Invalid Form Body".
 */
import type { FieldError } from './errors.js';

export const LIMITS = {
  content: 2000,
  actionRows: 5,
  buttonsPerRow: 5,
  customId: 100,
  buttonLabel: 80,
  attachments: 10,
  embeds: 10,
  embedDescription: 4096,
  embedTitle: 256,
  threadName: 100,
  modalTitle: 45,
} as const;

const COMPONENT = { actionRow: 1, button: 2, stringSelect: 3, textInput: 4, label: 18 } as const;
/** A string select's limits: its options, their label and value, its placeholder. */
const SELECT = { options: 25, optionText: 100, placeholder: 150 } as const;
const LINK_STYLE = 5;

function tooLong(path: string, max: number): FieldError {
  return { path, code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${max} or fewer in length.` };
}

function checkButton(button: any, path: string, errors: FieldError[]): void {
  if (button?.type !== COMPONENT.button) {
    errors.push({ path: `${path}.type`, code: 'COMPONENT_TYPE_INVALID', message: 'Value of field "type" must be one of (2,).' });
    return;
  }
  if (typeof button.label === 'string' && button.label.length > LIMITS.buttonLabel) errors.push(tooLong(`${path}.label`, LIMITS.buttonLabel));
  if (button.style === LINK_STYLE) {
    if (typeof button.url !== 'string') errors.push({ path: `${path}.url`, code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
    return;
  }
  if (typeof button.custom_id !== 'string' || button.custom_id.length === 0) {
    errors.push({ path: `${path}.custom_id`, code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
  } else if (button.custom_id.length > LIMITS.customId) {
    errors.push(tooLong(`${path}.custom_id`, LIMITS.customId));
  }
  if (![1, 2, 3, 4].includes(button.style)) {
    errors.push({ path: `${path}.style`, code: 'BUTTON_STYLE_INVALID', message: 'Invalid button style' });
  }
}

/** A string select, which fills its action row alone. */
function checkStringSelect(select: any, path: string, rowSize: number, errors: FieldError[]): void {
  if (rowSize !== 1) errors.push({ path, code: 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', message: 'The specified component exceeds the maximum width' });
  if (typeof select.custom_id !== 'string' || select.custom_id.length === 0) errors.push({ path: `${path}.custom_id`, code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
  else if (select.custom_id.length > LIMITS.customId) errors.push(tooLong(`${path}.custom_id`, LIMITS.customId));
  if (typeof select.placeholder === 'string' && select.placeholder.length > SELECT.placeholder) errors.push(tooLong(`${path}.placeholder`, SELECT.placeholder));
  const options = select.options;
  if (!Array.isArray(options) || options.length === 0) {
    errors.push({ path: `${path}.options`, code: 'BASE_TYPE_MIN_LENGTH', message: 'Must be 1 or more in length.' });
    return;
  }
  if (options.length > SELECT.options) errors.push(tooLong(`${path}.options`, SELECT.options));
  options.forEach((option: any, o: number) => {
    for (const field of ['label', 'value'] as const) {
      if (typeof option?.[field] !== 'string' || option[field].length === 0) errors.push({ path: `${path}.options.${o}.${field}`, code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
      else if (option[field].length > SELECT.optionText) errors.push(tooLong(`${path}.options.${o}.${field}`, SELECT.optionText));
    }
  });
}

function checkComponents(rows: unknown, errors: FieldError[]): void {
  if (rows === undefined || rows === null) return;
  if (!Array.isArray(rows)) {
    errors.push({ path: 'components', code: 'BASE_TYPE_BAD_ARRAY', message: 'Must be an array.' });
    return;
  }
  if (rows.length > LIMITS.actionRows) errors.push(tooLong('components', LIMITS.actionRows));
  const customIds = new Set<string>();
  rows.forEach((row: any, r) => {
    if (row?.type !== COMPONENT.actionRow || !Array.isArray(row.components)) {
      errors.push({ path: `components.${r}`, code: 'UNION_TYPE_CHOICES', message: 'Value of field "type" must be one of (1,).' });
      return;
    }
    if (row.components.length === 0) errors.push({ path: `components.${r}.components`, code: 'BASE_TYPE_MIN_LENGTH', message: 'Must be 1 or more in length.' });
    if (row.components.length > LIMITS.buttonsPerRow) errors.push(tooLong(`components.${r}.components`, LIMITS.buttonsPerRow));
    row.components.forEach((button: any, b: number) => {
      if (button?.type === COMPONENT.stringSelect) checkStringSelect(button, `components.${r}.components.${b}`, row.components.length, errors);
      else checkButton(button, `components.${r}.components.${b}`, errors);
      if (typeof button?.custom_id === 'string') {
        if (customIds.has(button.custom_id)) {
          errors.push({ path: `components.${r}.components.${b}.custom_id`, code: 'COMPONENT_CUSTOM_ID_DUPLICATED', message: 'Component custom id cannot be duplicated' });
        }
        customIds.add(button.custom_id);
      }
    });
  });
}

function checkEmbeds(embeds: unknown, errors: FieldError[]): void {
  if (embeds === undefined || embeds === null) return;
  if (!Array.isArray(embeds)) {
    errors.push({ path: 'embeds', code: 'BASE_TYPE_BAD_ARRAY', message: 'Must be an array.' });
    return;
  }
  if (embeds.length > LIMITS.embeds) errors.push(tooLong('embeds', LIMITS.embeds));
  embeds.forEach((embed: any, i) => {
    if (typeof embed?.description === 'string' && embed.description.length > LIMITS.embedDescription) {
      errors.push(tooLong(`embeds.${i}.description`, LIMITS.embedDescription));
    }
    if (typeof embed?.title === 'string' && embed.title.length > LIMITS.embedTitle) errors.push(tooLong(`embeds.${i}.title`, LIMITS.embedTitle));
    const url = embed?.image?.url;
    if (url !== undefined && (typeof url !== 'string' || !/^(https?|attachment):\/\//.test(url))) {
      errors.push({ path: `embeds.${i}.image.url`, code: 'URL_TYPE_INVALID_URL', message: 'Not a well formed URL.' });
    }
  });
}

/**
 * Checks a message payload. `fileIds` are the `files[n]` indices uploaded with it; `keptIds` the
 * attachment ids the message already has (an edit may keep them by listing them).
 */
export function checkMessagePayload(body: any, fileIds: number[], keptIds: string[]): FieldError[] {
  const errors: FieldError[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return [{ path: '_root', code: 'DICT_TYPE_CONVERT', message: 'Only dictionaries may be used in a DictType' }];
  }
  if (body.content !== undefined && body.content !== null) {
    if (typeof body.content !== 'string') errors.push({ path: 'content', code: 'BASE_TYPE_STRING', message: 'Must be a string.' });
    else if (body.content.length > LIMITS.content) errors.push(tooLong('content', LIMITS.content));
  }
  checkComponents(body.components, errors);
  checkEmbeds(body.embeds, errors);
  if (fileIds.length > LIMITS.attachments) errors.push(tooLong('files', LIMITS.attachments));
  if (body.attachments !== undefined && body.attachments !== null) {
    if (!Array.isArray(body.attachments)) {
      errors.push({ path: 'attachments', code: 'BASE_TYPE_BAD_ARRAY', message: 'Must be an array.' });
    } else {
      if (body.attachments.length > LIMITS.attachments) errors.push(tooLong('attachments', LIMITS.attachments));
      body.attachments.forEach((attachment: any, i: number) => {
        const id = String(attachment?.id);
        const known = fileIds.map(String).includes(id) || keptIds.includes(id);
        if (!known) errors.push({ path: `attachments.${i}.id`, code: 'ATTACHMENT_NOT_FOUND', message: 'Unknown attachment id.' });
      });
    }
  }
  const mentions = body.allowed_mentions;
  if (mentions !== undefined && mentions !== null && mentions.parse !== undefined && !Array.isArray(mentions.parse)) {
    errors.push({ path: 'allowed_mentions.parse', code: 'BASE_TYPE_BAD_ARRAY', message: 'Must be an array.' });
  }
  return errors;
}

/** A modal (interaction response type 9): title, custom_id and one to five text inputs. */
export function checkModal(data: any): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof data?.custom_id !== 'string' || data.custom_id.length === 0) errors.push({ path: 'data.custom_id', code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
  else if (data.custom_id.length > LIMITS.customId) errors.push(tooLong('data.custom_id', LIMITS.customId));
  if (typeof data?.title !== 'string' || data.title.length === 0) errors.push({ path: 'data.title', code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
  else if (data.title.length > LIMITS.modalTitle) errors.push(tooLong('data.title', LIMITS.modalTitle));
  const inputs = modalTextInputs(data);
  if (inputs.length === 0 || inputs.length > 5) errors.push({ path: 'data.components', code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 5 in length.' });
  for (const input of inputs) {
    if (typeof input.custom_id !== 'string' || input.custom_id.length === 0 || input.custom_id.length > LIMITS.customId) {
      errors.push({ path: 'data.components', code: 'BASE_TYPE_REQUIRED', message: 'A text input needs a custom_id of 1 to 100 characters.' });
    }
  }
  return errors;
}

/** The text inputs of a modal, whether laid out in action rows (type 1) or labels (type 18). */
export function modalTextInputs(data: any): any[] {
  const inputs: any[] = [];
  for (const component of Array.isArray(data?.components) ? data.components : []) {
    if (component?.type === COMPONENT.actionRow) inputs.push(...(component.components ?? []).filter((c: any) => c?.type === COMPONENT.textInput));
    if (component?.type === COMPONENT.label && component.component?.type === COMPONENT.textInput) inputs.push(component.component);
  }
  return inputs;
}
