/**
 * Who may use the bot where, decided once for every platform: an adapter describes the person and
 * the place in neutral terms (`AccessFacts`), its settings become `AccessRules`, and the refusal a
 * person sees is worded here. Platform words (what the platform calls a server) come in as data.
 */

/** The operator's allow-lists; an empty list allows everyone or everywhere. */
export interface AccessRules {
  /** Servers (Discord guilds). */
  spaces: readonly string[];
  /** Channels; a thread counts as its parent channel. */
  channels: readonly string[];
  /** Roles, one of which a person needs; admins need none. */
  roles: readonly string[];
  users: readonly string[];
  /** Roles whose members are admins: they may press any job's buttons. */
  adminRoles: readonly string[];
  /** Whether the bot takes requests in direct messages. */
  directMessages: boolean;
}

/** One person in one place, as the platform's event describes them. */
export interface AccessFacts {
  user: string;
  /** The server the event happened in; absent in a direct message. */
  space?: string;
  channel: string;
  /** A thread's parent channel. */
  parentChannel?: string;
  isDm: boolean;
  roles: readonly string[];
  /** The platform itself makes the person an admin (Discord's Administrator permission). */
  platformAdmin: boolean;
}

export interface AccessWords {
  /** What the platform calls a server ("server"). */
  space: string;
}

const NO_RULES: AccessRules = { spaces: [], channels: [], roles: [], users: [], adminRoles: [], directMessages: true };

export class AccessPolicy {
  private readonly rules: AccessRules;

  constructor(
    rules: Partial<AccessRules>,
    private readonly words: AccessWords,
  ) {
    this.rules = { ...NO_RULES, ...rules };
  }

  isAdmin(who: AccessFacts): boolean {
    return who.platformAdmin || who.roles.some((role) => this.rules.adminRoles.includes(role));
  }

  /**
   * Whether the person may use the bot here. When not, `refuse` (if given) tells them why; without
   * it the bot stays silent, as it must where answering would be public.
   */
  async admits(who: AccessFacts, refuse?: (refusal: string) => Promise<unknown>): Promise<boolean> {
    const refusal = this.refusal(who);
    if (refusal === undefined) return true;
    await refuse?.(refusal);
    return false;
  }

  /** Why this person may not use the bot here, in words for them; undefined when they may. */
  refusal(who: AccessFacts): string | undefined {
    const { spaces, channels, roles, users, directMessages } = this.rules;
    const { space } = this.words;
    if (who.isDm && !directMessages) return `Edits are not available in direct messages; use the command in a ${space} channel.`;
    if (users.length > 0 && !users.includes(who.user)) return 'You are not on the list of people who may request edits; ask the bot’s admin.';
    if (who.isDm) return undefined; // a DM is between the person and the bot: channel and server lists do not apply
    if (spaces.length > 0 && !(who.space && spaces.includes(who.space))) return `This bot is not enabled in this ${space}.`;
    const inChannel = channels.includes(who.channel) || (who.parentChannel !== undefined && channels.includes(who.parentChannel));
    // `<#id>` links a channel on both Discord and Slack.
    if (channels.length > 0 && !inChannel) return `Edits are not enabled in this channel; use ${channels.map((id) => `<#${id}>`).join(', ')}.`;
    if (roles.length > 0 && !this.isAdmin(who) && !who.roles.some((role) => roles.includes(role))) {
      return `You need one of the roles allowed to request edits; ask a ${space} admin.`;
    }
    return undefined;
  }
}
