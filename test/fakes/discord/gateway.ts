/**
 * The fake gateway: Discord's v10 JSON protocol over ws:// (HELLO → IDENTIFY → READY →
 * GUILD_CREATE, heartbeats and their ACKs, RESUME), then dispatches. Like Discord, it withholds
 * message content from a session without the MESSAGE_CONTENT intent unless the message mentions
 * the bot, and sends guild messages only to sessions with GUILD_MESSAGES and direct messages only
 * to sessions with DIRECT_MESSAGES (whose content it never withholds, as Discord does not in DMs).
 *
 * Documented in github.com/discord/discord-api-docs: the connection's lifecycle, heartbeats and
 * sharding in developers/events/gateway.mdx ("Connection Lifecycle", "Sending Heartbeats",
 * "Sharding"); which intent brings which event, and the content rules, in the same page ("List of
 * Intents", "Message Content Intent"); the close codes (4002 decode, 4003 not authenticated, 4004
 * authentication failed, 4005 already authenticated, 4010 invalid shard, 4012 invalid API
 * version, 4013 invalid intents) in developers/topics/opcodes-and-status-codes.mdx ("Gateway
 * Close Event Codes"). The heartbeat interval (41.25 s) is what Discord sends today: assumed.
 */
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { snowflake } from './snowflake.js';
import type { World, WireMessage } from './world.js';

export const OP = { dispatch: 0, heartbeat: 1, identify: 2, resume: 6, reconnect: 7, invalidSession: 9, hello: 10, heartbeatAck: 11 } as const;
export const INTENTS = { guilds: 1 << 0, guildMessages: 1 << 9, directMessages: 1 << 12, messageContent: 1 << 15 } as const;
const HEARTBEAT_INTERVAL_MS = 41_250;

export interface GatewaySession {
  id: string;
  socket: WebSocket;
  intents: number;
  sequence: number;
  identified: boolean;
  heartbeats: number;
  /** [shard id, shard count] from IDENTIFY (default [0, 1]). */
  shard: [number, number];
}

export interface GatewayEvents {
  violation(rule: string, detail: string): void;
  received(op: number, data: unknown): void;
}

export class FakeGateway {
  readonly sessions: GatewaySession[] = [];
  /** Every IDENTIFY so far, in order: its shard and intents. */
  readonly identified: Array<{ shard: [number, number]; intents: number }> = [];
  private readonly server: WebSocketServer;
  /** Set by `drop`: connections are cut and new ones refused, as when the network between the bot and Discord fails. */
  private down = false;

  constructor(
    http: Server,
    private readonly world: World,
    private readonly token: string,
    private readonly events: GatewayEvents,
  ) {
    this.server = new WebSocketServer({ server: http, path: '/gateway' });
    this.server.on('connection', (socket, request) => this.accept(socket, new URL(request.url ?? '/', 'ws://localhost')));
  }

  private accept(socket: WebSocket, url: URL): void {
    if (this.down) {
      socket.terminate();
      return;
    }
    if (url.searchParams.get('v') !== '10') {
      this.events.violation('gateway-version', `connected with v=${url.searchParams.get('v')}`);
      socket.close(4012, 'Invalid API version');
      return;
    }
    if (url.searchParams.get('encoding') !== 'json') {
      this.events.violation('gateway-encoding', `connected with encoding=${url.searchParams.get('encoding')}`);
      socket.close(4002, 'Error while decoding payload.');
      return;
    }
    const session: GatewaySession = { id: snowflake(), socket, intents: 0, sequence: 0, identified: false, heartbeats: 0, shard: [0, 1] };
    this.sessions.push(session);
    socket.on('message', (raw) => this.receive(session, raw.toString()));
    socket.on('close', () => this.sessions.splice(this.sessions.indexOf(session), 1));
    this.send(session, { op: OP.hello, d: { heartbeat_interval: HEARTBEAT_INTERVAL_MS } });
  }

  private receive(session: GatewaySession, raw: string): void {
    let payload: any;
    try {
      payload = JSON.parse(raw);
    } catch {
      this.events.violation('gateway-decode', 'a frame that is not JSON');
      session.socket.close(4002, 'Error while decoding payload.');
      return;
    }
    this.events.received(payload.op, payload.d);
    switch (payload.op) {
      case OP.heartbeat:
        session.heartbeats += 1;
        this.send(session, { op: OP.heartbeatAck });
        return;
      case OP.identify:
        this.identify(session, payload.d);
        return;
      case OP.resume:
        if (payload.d?.token !== this.token) {
          session.socket.close(4004, 'Authentication failed.');
          return;
        }
        session.identified = true;
        this.dispatchTo(session, 'RESUMED', {});
        return;
      default:
        if (!session.identified) session.socket.close(4003, 'Not authenticated.');
    }
  }

  private identify(session: GatewaySession, data: any): void {
    if (session.identified) {
      this.events.violation('identify-twice', 'IDENTIFY sent on an identified session');
      session.socket.close(4005, 'Already authenticated.');
      return;
    }
    if (data?.token !== this.token) {
      this.events.violation('bad-token', 'IDENTIFY with a wrong token');
      session.socket.close(4004, 'Authentication failed.');
      return;
    }
    if (typeof data.intents !== 'number') {
      session.socket.close(4013, 'Invalid intent(s).');
      return;
    }
    const shard: [number, number] = Array.isArray(data.shard) ? [Number(data.shard[0]), Number(data.shard[1])] : [0, 1];
    if (!(shard[1] >= 1 && shard[0] >= 0 && shard[0] < shard[1])) {
      // developers/topics/opcodes-and-status-codes.mdx: 4010 Invalid shard.
      this.events.violation('invalid-shard', `IDENTIFY with shard ${JSON.stringify(data.shard)}`);
      session.socket.close(4010, 'Invalid shard.');
      return;
    }
    session.intents = data.intents;
    session.shard = shard;
    session.identified = true;
    this.identified.push({ shard, intents: data.intents });
    const port = (this.server.address() as { port?: number } | null)?.port;
    const ownsGuild = this.ownsGuild(session);
    this.dispatchTo(session, 'READY', {
      ...this.world.ready(),
      ...(ownsGuild ? {} : { guilds: [] }),
      session_id: session.id,
      resume_gateway_url: `ws://127.0.0.1:${port ?? this.world.baseUrl.split(':').pop()}/gateway`,
      shard,
    });
    if (ownsGuild && session.intents & INTENTS.guilds) this.dispatchTo(session, 'GUILD_CREATE', this.world.guildCreate());
  }

  /**
   * Whether a session's shard receives the guild's events: shard_id = (guild_id >> 22) % num_shards
   * (developers/events/gateway.mdx, "Sharding Formula"); events without a `guild_id` (DMs) go to shard 0 only (same section).
   */
  private ownsGuild(session: GatewaySession): boolean {
    return Number((BigInt(this.world.guildId) >> 22n) % BigInt(session.shard[1])) === session.shard[0];
  }

  private receives(session: GatewaySession, guildId: string | undefined): boolean {
    return session.identified && (guildId === undefined ? session.shard[0] === 0 : this.ownsGuild(session));
  }

  /** The intents of the identified sessions together: what the bot asked to be sent. */
  get intents(): number {
    return this.sessions.filter((session) => session.identified).reduce((all, session) => all | session.intents, 0);
  }

  /** Cuts every connection without a close frame and refuses new ones until `restore`. */
  drop(): void {
    this.down = true;
    for (const session of [...this.sessions]) session.socket.terminate();
  }

  restore(): void {
    this.down = false;
  }

  private send(session: GatewaySession, payload: Record<string, unknown>): void {
    session.socket.send(JSON.stringify({ s: null, t: null, ...payload }));
  }

  private dispatchTo(session: GatewaySession, type: string, data: unknown): void {
    session.sequence += 1;
    this.send(session, { op: OP.dispatch, t: type, s: session.sequence, d: data });
  }

  /** Sends an event to every identified session whose shard it belongs to (by its `guild_id`). */
  dispatch(type: string, data: unknown): void {
    const guildId = (data as { guild_id?: string } | null)?.guild_id;
    for (const session of this.sessions) if (this.receives(session, guildId)) this.dispatchTo(session, type, data);
  }

  /** MESSAGE_CREATE / MESSAGE_UPDATE, with content withheld where Discord withholds it. */
  dispatchMessage(type: 'MESSAGE_CREATE' | 'MESSAGE_UPDATE', message: WireMessage): void {
    const inDm = message.guild_id === undefined;
    for (const session of this.sessions) {
      if (!this.receives(session, message.guild_id) || !(session.intents & (inDm ? INTENTS.directMessages : INTENTS.guildMessages))) continue;
      const bot = this.world.people.bot.id;
      const visible =
        inDm || session.intents & INTENTS.messageContent || message.author.id === bot || message.mentions.some((user) => user.id === bot);
      const data = visible ? message : { ...message, content: '', attachments: [], embeds: [], components: [] };
      this.dispatchTo(session, type, this.world.messagePayload(data));
    }
  }

  /** Whether some session is identified (the client finished its handshake). */
  get ready(): boolean {
    return this.sessions.some((session) => session.identified);
  }

  close(): void {
    for (const session of this.sessions) session.socket.terminate();
    this.server.close();
  }
}
