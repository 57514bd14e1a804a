/** The application commands the bot offers, and registering them (`gas discord register`). */
import {
  ApplicationCommandType,
  REST,
  ContextMenuCommandBuilder,
  Routes,
  SlashCommandBuilder,
  type RESTPostAPIApplicationCommandsJSONBody,
  type RESTPutAPIApplicationCommandsResult,
} from 'discord.js';
import { editJobOptionsSchema } from '../../src/jobs/contracts.js';
import { MAX_REQUEST_CHARS } from '../../src/plan/planner.js';
import { DEFAULT_DISCORD_API_URL } from './config.js';

export const EDIT_COMMAND = 'edit';
export const EDIT_IMAGE_COMMAND = 'Edit image';
export const OPTION = { image: 'image', request: 'request', steps: 'steps', seed: 'seed' } as const;

const stepsRange = editJobOptionsSchema.shape.steps.unwrap();
const seedRange = editJobOptionsSchema.shape.seed.unwrap();

export function commandDefinitions(): RESTPostAPIApplicationCommandsJSONBody[] {
  const slash = new SlashCommandBuilder()
    .setName(EDIT_COMMAND)
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
    );
  const contextMenu = new ContextMenuCommandBuilder().setName(EDIT_IMAGE_COMMAND).setType(ApplicationCommandType.Message);
  return [slash.toJSON(), contextMenu.toJSON()];
}

export interface RegisterOptions {
  token: string;
  applicationId: string;
  apiUrl?: string;
  /** Register in one guild (instant) instead of globally. */
  guildId?: string;
}

/** Replaces the application's commands (globally, or in one guild) with ours. */
export async function registerCommands(options: RegisterOptions): Promise<RESTPutAPIApplicationCommandsResult> {
  const rest = new REST({ api: options.apiUrl ?? DEFAULT_DISCORD_API_URL }).setToken(options.token);
  const route = options.guildId
    ? Routes.applicationGuildCommands(options.applicationId, options.guildId)
    : Routes.applicationCommands(options.applicationId);
  return (await rest.put(route, { body: commandDefinitions() })) as RESTPutAPIApplicationCommandsResult;
}
