/** The application commands the bot offers, the modal of "Edit image", and registering them (`gas discord register`). */
import {
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  REST,
  ContextMenuCommandBuilder,
  LabelBuilder,
  ModalBuilder,
  Routes,
  SlashCommandBuilder,
  TextInputBuilder,
  TextInputStyle,
  type RESTPostAPIApplicationCommandsJSONBody,
  type RESTPutAPIApplicationCommandsResult,
} from 'discord.js';
import { editJobOptionsSchema } from '../../src/jobs/contracts.js';
import { MAX_REQUEST_CHARS } from '../../src/plan/planner.js';
import { DEFAULT_DISCORD_API_URL } from './config.js';

export const EDIT_COMMAND = 'edit';
export const EDIT_IMAGE_COMMAND = 'Edit image';
export const OPTION = { image: 'image', request: 'request', steps: 'steps', seed: 'seed', check: 'check' } as const;
/** The modal "Edit image" opens: its custom id is the prefix and the target message's id. */
export const EDIT_MODAL = { prefix: 'gas-edit:', requestInput: 'request' } as const;

const stepsRange = editJobOptionsSchema.shape.steps.unwrap();
const seedRange = editJobOptionsSchema.shape.seed.unwrap();

/**
 * Where the commands may be used: in servers, and in DMs with the bot when DISCORD_DMS is on
 * (`contexts`, discord.com/developers/docs/interactions/application-commands, "Interaction Contexts"); installed
 * to servers only (`integration_types` 0), since the bot must be in the server to see and edit.
 */
function usableIn(dms: boolean): { contexts: InteractionContextType[]; integrationTypes: ApplicationIntegrationType[] } {
  return { contexts: [InteractionContextType.Guild, ...(dms ? [InteractionContextType.BotDM] : [])], integrationTypes: [ApplicationIntegrationType.GuildInstall] };
}

export function commandDefinitions(options: { dms?: boolean } = {}): RESTPostAPIApplicationCommandsJSONBody[] {
  const { contexts, integrationTypes } = usableIn(options.dms ?? false);
  const slash = new SlashCommandBuilder()
    .setName(EDIT_COMMAND)
    .setContexts(contexts)
    .setIntegrationTypes(integrationTypes)
    .setDescription('Edit an image: "turn the dog into a tiger and the grass into snow"')
    .addAttachmentOption((option) => option.setName(OPTION.image).setDescription('The photo to edit').setRequired(true))
    .addStringOption((option) =>
      option.setName(OPTION.request).setDescription('What to change, in your words').setRequired(true).setMaxLength(MAX_REQUEST_CHARS),
    )
    .addIntegerOption((option) =>
      option.setName(OPTION.steps).setDescription('Iterations (more: slower, stronger)').setMinValue(stepsRange.minValue ?? 1).setMaxValue(stepsRange.maxValue ?? 10_000),
    )
    .addIntegerOption((option) =>
      option.setName(OPTION.seed).setDescription('Random seed, to repeat an edit exactly').setMinValue(seedRange.minValue ?? 0).setMaxValue(seedRange.maxValue ?? 2 ** 31 - 1),
    )
    .addBooleanOption((option) => option.setName(OPTION.check).setDescription('Show the regions found, to fix them, before any editing (default: when unsure)'));
  const contextMenu = new ContextMenuCommandBuilder().setName(EDIT_IMAGE_COMMAND).setType(ApplicationCommandType.Message).setContexts(contexts).setIntegrationTypes(integrationTypes);
  return [slash.toJSON(), contextMenu.toJSON()];
}

/** What "Edit image" asks for: the request, about the image of message `targetId`. */
export function editImageModal(targetId: string): ModalBuilder {
  const request = new TextInputBuilder()
    .setCustomId(EDIT_MODAL.requestInput)
    .setStyle(TextInputStyle.Paragraph)
    .setPlaceholder('turn the dog into a tiger and the grass into snow')
    .setRequired(true)
    .setMaxLength(MAX_REQUEST_CHARS);
  return new ModalBuilder()
    .setCustomId(`${EDIT_MODAL.prefix}${targetId}`)
    .setTitle('Edit image')
    .addLabelComponents(new LabelBuilder().setLabel('What should change?').setTextInputComponent(request));
}

export interface RegisterOptions {
  token: string;
  applicationId: string;
  apiUrl?: string;
  /** Register in one guild (instant) instead of globally. */
  guildId?: string;
  /** DISCORD_DMS: the commands may be used in DMs with the bot too. */
  dms?: boolean;
}

/** Replaces the application's commands (globally, or in one guild) with ours. */
export async function registerCommands(options: RegisterOptions): Promise<RESTPutAPIApplicationCommandsResult> {
  const rest = new REST({ api: options.apiUrl ?? DEFAULT_DISCORD_API_URL }).setToken(options.token);
  const route = options.guildId
    ? Routes.applicationGuildCommands(options.applicationId, options.guildId)
    : Routes.applicationCommands(options.applicationId);
  return (await rest.put(route, { body: commandDefinitions({ dms: options.dms ?? false }) })) as RESTPutAPIApplicationCommandsResult;
}
