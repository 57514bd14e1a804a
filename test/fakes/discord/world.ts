/**
 * What the fake Discord knows: one application with its bot user, one guild with a text channel,
 * roles and members, people's direct-message channels with the bot, the channels' messages and
 * threads, and the files attached to them. Objects
 * are kept in Discord's wire shape (snake_case), the shape discord.js parses.
 */
import { snowflake } from './snowflake.js';

/** Permission bits (discord/discord-api-docs developers/topics/permissions.mdx, "Bitwise Permission Flags"). */
export const PERMISSIONS = {
  administrator: 1n << 3n,
  viewChannel: 1n << 10n,
  sendMessages: 1n << 11n,
  embedLinks: 1n << 14n,
  attachFiles: 1n << 15n,
  readMessageHistory: 1n << 16n,
  mentionEveryone: 1n << 17n,
  useApplicationCommands: 1n << 31n,
  createPublicThreads: 1n << 35n,
  sendMessagesInThreads: 1n << 38n,
} as const;

export type PermissionName = keyof typeof PERMISSIONS;

// Members may do everything but administer and mention @everyone (a server's usual default).
const MEMBER_PERMISSIONS = Object.entries(PERMISSIONS)
  .filter(([name]) => name !== 'administrator' && name !== 'mentionEveryone')
  .reduce((all, [, bit]) => all | bit, 0n);

export const CHANNEL_TYPE = { text: 0, dm: 1, publicThread: 11 } as const;
export const MESSAGE_FLAGS = { ephemeral: 1 << 6, loading: 1 << 7 } as const;
export const INTERACTION_TYPE = { command: 2, component: 3, modal: 5 } as const;
const COMMAND_OPTION = { string: 3, integer: 4, boolean: 5, number: 10, attachment: 11 } as const;

export interface FileInput {
  name: string;
  data: Buffer;
  contentType?: string;
}

export type OptionValue = string | number | boolean | FileInput;

/** One interaction as a person's client sends it; `message` is the message a component is on. */
export interface InteractionInput {
  id: string;
  token: string;
  kind: keyof typeof INTERACTION_TYPE;
  data: any;
  userId: string;
  channelId: string;
  message?: WireMessage;
  /** The upload limit Discord tells the app (`attachment_size_limit`). */
  attachmentSizeLimit: number;
}

/**
 * One message's notifications: whom a real client would have notified of it
 * (developers/resources/message.mdx, "Allowed Mentions Object").
 */
export interface Notification {
  messageId: string;
  channelId: string;
  users: string[];
  roles: string[];
  /** `@everyone` or `@here` went out. */
  everyone: boolean;
}

export interface WireUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: null;
  bot?: boolean;
  public_flags: number;
}

export interface WireAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
  description?: string;
  width?: number;
  height?: number;
}

export interface WireMessage {
  id: string;
  type: number;
  channel_id: string;
  guild_id?: string;
  author: WireUser;
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  tts: boolean;
  mention_everyone: boolean;
  mentions: WireUser[];
  mention_roles: string[];
  attachments: WireAttachment[];
  embeds: any[];
  components: any[];
  pinned: boolean;
  flags: number;
  webhook_id?: string;
  application_id?: string;
  message_reference?: { type: 0; message_id: string; channel_id: string; guild_id?: string };
  referenced_message?: WireMessage | null;
  interaction_metadata?: Record<string, unknown>;
  thread?: Record<string, unknown>;
  allowed_mentions?: unknown;
}

export interface StoredFile {
  attachment: WireAttachment;
  data: Buffer;
}

export interface People {
  bot: WireUser;
  alice: WireUser;
  bob: WireUser;
  /** A server admin (Administrator). */
  carol: WireUser;
  /** A member like bob, with no role: the third person in a thread. */
  dave: WireUser;
  otherBot: WireUser;
}

export function wireUser(username: string, bot = false): WireUser {
  return { id: snowflake(), username, global_name: bot ? null : username, discriminator: '0', avatar: null, ...(bot ? { bot: true } : {}), public_flags: 0 };
}

export class World {
  readonly applicationId: string;
  readonly guildId = snowflake();
  readonly channelId = snowflake();
  readonly people: People;
  readonly roles: { everyone: string; editors: string; admins: string };
  /** Each person's role ids in the guild. */
  readonly memberRoles = new Map<string, string[]>();
  readonly channels = new Map<string, any>();
  readonly messages = new Map<string, WireMessage>();
  readonly files = new Map<string, StoredFile>();
  /** Permissions a channel's overwrites deny the bot (a thread follows its parent's). */
  readonly botDenied = new Map<string, bigint>();

  constructor(readonly baseUrl: string) {
    const bot = wireUser('gas-bot', true);
    this.applicationId = bot.id;
    this.people = { bot, alice: wireUser('alice'), bob: wireUser('bob'), carol: wireUser('carol'), dave: wireUser('dave'), otherBot: wireUser('other-bot', true) };
    this.roles = { everyone: this.guildId, editors: snowflake(), admins: snowflake() };
    this.memberRoles.set(bot.id, []);
    this.memberRoles.set(this.people.alice.id, [this.roles.editors]);
    this.memberRoles.set(this.people.bob.id, []);
    this.memberRoles.set(this.people.carol.id, [this.roles.admins]);
    this.memberRoles.set(this.people.dave.id, []);
    this.memberRoles.set(this.people.otherBot.id, []);
    this.channels.set(this.channelId, {
      id: this.channelId,
      type: CHANNEL_TYPE.text,
      guild_id: this.guildId,
      name: 'edits',
      position: 0,
      permission_overwrites: [],
      parent_id: null,
      topic: null,
      nsfw: false,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0,
    });
  }

  user(id: string): WireUser {
    const user = Object.values(this.people).find((person) => person.id === id);
    if (!user) throw new Error(`the fake Discord has no user ${id}`);
    return user;
  }

  rolesList(): any[] {
    const role = (id: string, name: string, permissions: bigint, position: number) => ({
      id, name, color: 0, colors: { primary_color: 0, secondary_color: null, tertiary_color: null }, hoist: false, icon: null, unicode_emoji: null,
      position, permissions: permissions.toString(), managed: false, mentionable: false, flags: 0,
    });
    return [
      role(this.roles.everyone, '@everyone', MEMBER_PERMISSIONS, 0),
      role(this.roles.editors, 'editors', MEMBER_PERMISSIONS, 1),
      role(this.roles.admins, 'admins', MEMBER_PERMISSIONS | PERMISSIONS.administrator, 2),
    ];
  }

  /** A person's permissions in the guild: @everyone's and their roles', as the interaction's `member.permissions` has them. */
  permissionsOf(userId: string): bigint {
    const roles = this.rolesList();
    const ids = new Set([this.roles.everyone, ...(this.memberRoles.get(userId) ?? [])]);
    return roles.filter((role) => ids.has(role.id)).reduce((all, role) => all | BigInt(role.permissions), 0n);
  }

  /**
   * The bot's permissions in a channel: its guild permissions less what the channel's overwrites
   * deny it; a thread inherits its parent's (developers/topics/permissions.mdx, "Permissions for
   * Threads"), and without VIEW_CHANNEL nothing else is allowed ("Implicit Permissions").
   */
  botPermissionsIn(channelId: string): bigint {
    const channel = this.channels.get(channelId);
    if (!channel || channel.type === CHANNEL_TYPE.dm) return this.permissionsOf(this.people.bot.id);
    const parent = channel.type === CHANNEL_TYPE.publicThread ? channel.parent_id : undefined;
    const denied = (this.botDenied.get(channelId) ?? 0n) | (parent ? (this.botDenied.get(parent) ?? 0n) : 0n);
    const permissions = this.permissionsOf(this.people.bot.id) & ~denied;
    return permissions & PERMISSIONS.viewChannel ? permissions : 0n;
  }

  member(userId: string, withPermissions = false): any {
    return {
      user: this.user(userId),
      nick: null,
      avatar: null,
      roles: this.memberRoles.get(userId) ?? [],
      joined_at: new Date(0).toISOString(),
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
      ...(withPermissions ? { permissions: this.permissionsOf(userId).toString() } : {}),
    };
  }

  guildCreate(): any {
    return {
      id: this.guildId,
      name: 'Fake guild',
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: this.people.carol.id,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: this.rolesList(),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      max_members: 500000,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      joined_at: new Date(0).toISOString(),
      large: false,
      unavailable: false,
      member_count: Object.keys(this.people).length,
      voice_states: [],
      members: Object.values(this.people).map((person) => this.member(person.id)),
      channels: [...this.channels.values()].filter((channel) => channel.type === CHANNEL_TYPE.text),
      threads: [...this.channels.values()].filter((channel) => channel.type === CHANNEL_TYPE.publicThread),
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  /** READY's payload, without the fields of the gateway session it opens. */
  ready(): Record<string, unknown> {
    return {
      v: 10,
      user: this.people.bot,
      guilds: [{ id: this.guildId, unavailable: true }],
      application: { id: this.applicationId, flags: 0 },
      private_channels: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      user_settings: {},
      relationships: [],
      auth: {},
    };
  }

  /** MESSAGE_CREATE / MESSAGE_UPDATE's payload: the author's member (none in a DM) and the channel's type, which discord.js needs to build a DM channel it has not cached. */
  messagePayload(message: WireMessage): any {
    const inDm = message.guild_id === undefined;
    const member = inDm || (message.author.bot && message.webhook_id) ? undefined : this.member(message.author.id);
    return { ...message, member, channel_type: this.channels.get(message.channel_id)?.type };
  }

  /** THREAD_CREATE's payload for a thread just started. */
  threadCreatePayload(thread: any): any {
    return { ...thread, newly_created: true, member: { id: thread.id, user_id: thread.owner_id, join_timestamp: new Date().toISOString(), flags: 0 } };
  }

  /** A slash command's `data`: its options, attachments stored as files and resolved as Discord resolves them. */
  commandData(name: string, commandId: string, channelId: string, options: Record<string, OptionValue>): any {
    const resolvedAttachments: Record<string, WireAttachment> = {};
    const wireOptions = Object.entries(options).map(([optionName, value]) => {
      if (typeof value === 'object') {
        const attachment = this.storeFile(channelId, value.name, value.data, value.contentType);
        resolvedAttachments[attachment.id] = attachment;
        return { name: optionName, type: COMMAND_OPTION.attachment, value: attachment.id };
      }
      const type = typeof value === 'string' ? COMMAND_OPTION.string : typeof value === 'boolean' ? COMMAND_OPTION.boolean : Number.isInteger(value) ? COMMAND_OPTION.integer : COMMAND_OPTION.number;
      return { name: optionName, type, value };
    });
    return { id: commandId, name, type: 1, options: wireOptions, ...(Object.keys(resolvedAttachments).length > 0 ? { resolved: { attachments: resolvedAttachments } } : {}) };
  }

  /** INTERACTION_CREATE's payload. From a DM with the bot (context 1) the person comes as `user`, with no guild, member or guild locale. */
  interaction(input: InteractionInput): any {
    const channel = this.channels.get(input.channelId);
    if (!channel) throw new Error(`the fake Discord has no channel ${input.channelId}`);
    const where =
      channel.type === CHANNEL_TYPE.dm
        ? { channel, user: this.user(input.userId), authorizing_integration_owners: { 0: '0' }, context: 1 }
        : {
            guild_id: this.guildId,
            channel: { ...channel, permissions: this.permissionsOf(input.userId).toString() },
            member: this.member(input.userId, true),
            guild_locale: 'en-US',
            authorizing_integration_owners: { 0: this.guildId },
            context: 0,
          };
    // The app's permissions where the interaction happened (developers/interactions/receiving-and-responding.mdx, `app_permissions`).
    const appPermissions = this.botPermissionsIn(input.channelId);
    return {
      id: input.id,
      application_id: this.applicationId,
      type: INTERACTION_TYPE[input.kind],
      data: input.data,
      ...where,
      channel_id: input.channelId,
      token: input.token,
      version: 1,
      app_permissions: appPermissions.toString(),
      locale: 'en-US',
      entitlements: [],
      attachment_size_limit: input.attachmentSizeLimit,
      ...(input.message ? { message: input.message } : {}),
    };
  }

  /** Stores bytes under the fake's own host, as Discord's CDN would serve them. */
  storeFile(channelId: string, filename: string, data: Buffer, contentType?: string, description?: string): WireAttachment {
    const id = snowflake();
    const url = `${this.baseUrl}/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`;
    const attachment: WireAttachment = {
      id, filename, size: data.length, url, proxy_url: url,
      ...(contentType ? { content_type: contentType } : {}),
      ...(description ? { description } : {}),
    };
    this.files.set(id, { attachment, data });
    return attachment;
  }

  newMessage(fields: Partial<WireMessage> & { channel_id: string; author: WireUser }): WireMessage {
    const channel = this.channels.get(fields.channel_id);
    const message: WireMessage = {
      id: snowflake(),
      type: 0,
      guild_id: channel?.guild_id,
      content: '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      components: [],
      pinned: false,
      flags: 0,
      ...fields,
    };
    this.messages.set(message.id, message);
    if (channel) {
      channel.last_message_id = message.id;
      if (channel.type === CHANNEL_TYPE.publicThread) {
        channel.message_count += 1;
        channel.total_message_sent += 1;
      }
    }
    return message;
  }

  /** The DM channel between a person and the bot, opened on first use as Discord opens it (type 1, the person as its recipient). */
  dmChannel(userId: string): any {
    const user = this.user(userId);
    const existing = [...this.channels.values()].find((channel) => channel.type === CHANNEL_TYPE.dm && channel.recipients[0].id === userId);
    if (existing) return existing;
    const channel = { id: snowflake(), type: CHANNEL_TYPE.dm, last_message_id: null, flags: 0, recipients: [user] };
    this.channels.set(channel.id, channel);
    return channel;
  }

  newThread(parentId: string, name: string, ownerId: string, id = snowflake()): any {
    const thread = {
      id,
      type: CHANNEL_TYPE.publicThread,
      guild_id: this.guildId,
      parent_id: parentId,
      owner_id: ownerId,
      name,
      last_message_id: null,
      message_count: 0,
      member_count: 1,
      rate_limit_per_user: 0,
      flags: 0,
      total_message_sent: 0,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
    };
    this.channels.set(id, thread);
    return thread;
  }
}
