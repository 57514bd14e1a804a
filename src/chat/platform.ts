/**
 * What a chat platform brings to the bot: one descriptor per adapter (`adapters/<name>/index.ts`),
 * listed once in the registry (`adapters/registry.ts`). Everything platform-specific that the
 * rest of the program needs derives from it: the `gas <name>` command and its subcommands, the
 * `gas serve --<name>` flag, the section of the configuration (and so the secrets the logs cut
 * out), and the transport the bot process runs (and so `/healthz`). Adding a platform is a folder
 * and a line in the registry; nothing under src/ names one.
 *
 * A descriptor must be cheap to import: it names its client library only inside
 * `createTransport` and its commands' `run`, so `gas --help` loads none of them.
 */
import type { ConfigSection, SectionValues } from '../config/section.js';
import type { PlatformStore } from '../jobs/platform-store.js';
import type { Logger } from '../log.js';
import type { ChatTransport } from './transport.js';

export type { PlatformStore } from '../jobs/platform-store.js';

/**
 * A transport as a bot process runs it: it can say whether its connection is up (for /healthz);
 * where the platform allows one connection per credential, it names that connection, so only
 * one bot process at a time opens it (the others stand by); it may say which shards it serves,
 * and may keep state in Redis.
 */
export type BotTransport = ChatTransport & {
  /** Whether the platform's connection is up now: a dropped one must read false within 30 s. */
  connected?(): boolean;
  exclusiveConnection?(): string | undefined;
  shards?(): readonly number[];
  /**
   * Given by the bot process before `start`: where the transport keeps what must survive a restart
   * of the process (src/jobs/platform-store.ts). Without it, the transport keeps that in memory.
   */
  useStore?(store: PlatformStore): void;
};

/** One option of a platform subcommand, as `gas <name> <command> --help` lists it. */
export interface PlatformCommandOption {
  /** As commander writes it: `--guild <id>`. */
  readonly flags: string;
  readonly description: string;
  readonly default?: string;
}

/** What a subcommand gets when it runs. */
export interface PlatformCommandContext<C> {
  /** The option values by their camel-case names (strings until checked). */
  readonly flags: Readonly<Record<string, string | undefined>>;
  /** The platform's settings, read when asked (a command that needs none never fails on them). */
  config(): C;
  /** How a refusal names an option: its flag (`--guild`). */
  nameOf(key: string): string;
}

/** A subcommand of `gas <name>` (`gas discord register`, `gas slack manifest`). */
export interface PlatformCommand<C> {
  readonly name: string;
  readonly description: string;
  readonly options?: readonly PlatformCommandOption[];
  /** Returns what to print on stdout. */
  run(context: PlatformCommandContext<C>): Promise<string> | string;
}

/**
 * An option of `gas <name>` itself (and of `gas serve` for that platform): a flag that overrides one
 * of the platform's settings, as every flag overrides its variable (`--shards` over DISCORD_SHARDS).
 */
export interface PlatformRunOption<C = Record<string, unknown>> extends PlatformCommandOption {
  /** The setting (a key of the platform's configuration section) the flag gives a value for. */
  readonly setting: keyof C & string;
}

export interface PlatformDescriptor<S extends ConfigSection = ConfigSection> {
  /** Lower-case: the command (`gas discord`), the serve flag (`--discord`) and the platform of its jobs. */
  readonly name: string;
  /** As people write it: "Discord". */
  readonly title: string;
  /** Its settings (variables, secrets, defaults). */
  readonly config: S;
  /** The bot's transport, its client library loaded only now. */
  createTransport(config: SectionValues<S>, logger: Logger): Promise<BotTransport>;
  readonly commands?: readonly PlatformCommand<SectionValues<S>>[];
  /** Flags of `gas <name>` that override its settings for that run. */
  readonly options?: readonly PlatformRunOption<SectionValues<S>>[];
}

/** A platform's descriptor with its settings' type erased, as the registry lists them. */
export type AnyPlatform = PlatformDescriptor<ConfigSection<any>>;

/** Keeps a descriptor's types while letting the registry list it among others. */
export function definePlatform<S extends ConfigSection>(descriptor: PlatformDescriptor<S>): PlatformDescriptor<S> {
  return descriptor;
}
