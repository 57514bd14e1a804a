/**
 * Block Kit as Slack checks it for chat.postMessage / chat.update: at most 50 blocks, known block
 * types, section text within 3000 characters, image blocks with an image_url or a slack_file that
 * is processed, buttons with an action_id and a label within 75, static selects with 1 to 100
 * options. A broken rule is answered as Slack does: `invalid_blocks` with the offending
 * json-pointer in `errors`. The limits are Block Kit's reference (docs.slack.dev/reference/block-kit):
 * blocks/ (50 blocks per message; section text 3000; image alt_text 2000; actions 25 elements),
 * block-elements/button-element (action_id 255, text 75, style primary|danger),
 * block-elements/select-menu-element#static_select (options 100, option text 75, value 150,
 * placeholder 150), and slack_file images need a processed file (reference/block-kit/composition-objects/slack-file-object: assumed processed, as
 * Slack answers invalid_blocks for a file still being processed).
 */

export const BLOCK_LIMITS = { blocks: 50, sectionText: 3000, buttonLabel: 75, actionId: 255, actionsElements: 25, altText: 2000, fallbackText: 40_000, selectOptions: 100, optionText: 75, optionValue: 150, placeholder: 150 } as const;

/** What the rules need to know about files: whether the id names a file that can be shown now. */
export type FileState = 'unknown' | 'unprocessed' | 'processed';

export function checkBlocks(blocks: unknown, fileState: (id: string) => FileState): string[] {
  if (!Array.isArray(blocks)) return ['blocks must be an array [json-pointer:/blocks]'];
  const errors: string[] = [];
  if (blocks.length > BLOCK_LIMITS.blocks) errors.push(`must provide an array with no more than ${BLOCK_LIMITS.blocks} items [json-pointer:/blocks]`);
  blocks.forEach((block: any, i) => {
    const at = `/blocks/${i}`;
    switch (block?.type) {
      case 'section': {
        const text = block.text?.text;
        if (typeof text !== 'string' || text.length === 0) errors.push(`must provide a text [json-pointer:${at}/text]`);
        else if (text.length > BLOCK_LIMITS.sectionText) errors.push(`must be less than ${BLOCK_LIMITS.sectionText + 1} characters [json-pointer:${at}/text/text]`);
        if (block.text && block.text.type !== 'mrkdwn' && block.text.type !== 'plain_text') errors.push(`invalid text type [json-pointer:${at}/text/type]`);
        return;
      }
      case 'image': {
        if (typeof block.alt_text !== 'string' || block.alt_text.length === 0) errors.push(`must provide alt_text [json-pointer:${at}/alt_text]`);
        else if (block.alt_text.length > BLOCK_LIMITS.altText) errors.push(`must be less than ${BLOCK_LIMITS.altText + 1} characters [json-pointer:${at}/alt_text]`);
        if (block.image_url !== undefined) return;
        const id = block.slack_file?.id;
        if (typeof id !== 'string') {
          errors.push(`must provide either image_url or slack_file [json-pointer:${at}]`);
          return;
        }
        if (!/^F[A-Z0-9]{8,}$/.test(id)) errors.push(`input must match regex pattern: ^[F][A-Z0-9]{8,}$ [json-pointer:${at}/slack_file/id]`);
        else if (fileState(id) !== 'processed') errors.push(`invalid slack file [json-pointer:${at}/slack_file]`);
        return;
      }
      case 'actions': {
        const elements = block.elements;
        if (!Array.isArray(elements) || elements.length === 0) {
          errors.push(`must provide elements [json-pointer:${at}/elements]`);
          return;
        }
        if (elements.length > BLOCK_LIMITS.actionsElements) errors.push(`must provide an array with no more than ${BLOCK_LIMITS.actionsElements} items [json-pointer:${at}/elements]`);
        elements.forEach((element: any, j: number) => {
          const el = `${at}/elements/${j}`;
          if (element?.type === 'static_select') {
            if (typeof element.action_id !== 'string' || element.action_id.length === 0 || element.action_id.length > BLOCK_LIMITS.actionId) errors.push(`invalid action_id [json-pointer:${el}/action_id]`);
            const options = element.options;
            if (!Array.isArray(options) || options.length === 0 || options.length > BLOCK_LIMITS.selectOptions) errors.push(`must provide 1 to ${BLOCK_LIMITS.selectOptions} options [json-pointer:${el}/options]`);
            (Array.isArray(options) ? options : []).forEach((option: any, k: number) => {
              const text = option?.text?.text;
              if (option?.text?.type !== 'plain_text' || typeof text !== 'string' || text.length === 0 || text.length > BLOCK_LIMITS.optionText) errors.push(`must be a plain_text of at most ${BLOCK_LIMITS.optionText} characters [json-pointer:${el}/options/${k}/text]`);
              if (typeof option?.value !== 'string' || option.value.length === 0 || option.value.length > BLOCK_LIMITS.optionValue) errors.push(`must be at most ${BLOCK_LIMITS.optionValue} characters [json-pointer:${el}/options/${k}/value]`);
            });
            const placeholder = element.placeholder?.text;
            if (placeholder !== undefined && (typeof placeholder !== 'string' || placeholder.length > BLOCK_LIMITS.placeholder)) errors.push(`must be at most ${BLOCK_LIMITS.placeholder} characters [json-pointer:${el}/placeholder]`);
            return;
          }
          if (element?.type !== 'button') return;
          if (typeof element.action_id !== 'string' || element.action_id.length === 0 || element.action_id.length > BLOCK_LIMITS.actionId) errors.push(`invalid action_id [json-pointer:${el}/action_id]`);
          const label = element.text?.text;
          if (element.text?.type !== 'plain_text' || typeof label !== 'string' || label.length === 0 || label.length > BLOCK_LIMITS.buttonLabel) errors.push(`must be a plain_text of at most ${BLOCK_LIMITS.buttonLabel} characters [json-pointer:${el}/text]`);
          if (element.style !== undefined && element.style !== 'primary' && element.style !== 'danger') errors.push(`must be primary or danger [json-pointer:${el}/style]`);
        });
        return;
      }
      case 'context':
      case 'divider':
      case 'header':
        return;
      default:
        errors.push(`unknown block type ${JSON.stringify(block?.type)} [json-pointer:${at}/type]`);
    }
  });
  // Slack also refuses duplicate action_ids within one message.
  const actionIds = blocks.flatMap((b: any) => (b?.type === 'actions' && Array.isArray(b.elements) ? b.elements.map((e: any) => e?.action_id) : []));
  if (new Set(actionIds).size !== actionIds.length) errors.push('duplicate action_id [json-pointer:/blocks]');
  return errors;
}
