/**
 * The fake gateway: Discord's v10 JSON protocol over ws:// (HELLO → IDENTIFY → READY →
 * GUILD_CREATE, heartbeats and their ACKs, RESUME), then dispatches. Like Discord, it withholds
 * message content from a session without the MESSAGE_CONTENT intent unless the message mentions
 * the bot, and sends guild messages only to sessions with GUILD_MESSAGES and direct messages only
 * to sessions with DIRECT_MESSAGES (whose content it never withholds, as Discord does not in DMs).
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
}

export interface GatewayEvents {
  violation(rule: string, detail: string): void;
  received(op: number, data: unknown): void;
}

export class FakeGateway {
  readonly sessions: GatewaySession[] = [];
  private readonly server: WebSocketServer;

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
    const session: GatewaySession = { id: snowflake(), socket, intents: 0, sequence: 0, identified: false, heartbeats: 0 };
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
    session.intents = data.intents;
    session.identified = true;
    const port = (this.server.address() as { port?: number } | null)?.port;
    this.dispatchTo(session, 'READY', {
      ...this.world.ready(),
      session_id: session.id,
      resume_gateway_url: `ws://127.0.0.1:${port ?? this.world.baseUrl.split(':').pop()}/gateway`,
      shard: data.shard ?? [0, 1],
    });
    if (session.intents & INTENTS.guilds) this.dispatchTo(session, 'GUILD_CREATE', this.world.guildCreate());
  }

  private send(session: GatewaySession, payload: Record<string, unknown>): void {
    session.socket.send(JSON.stringify({ s: null, t: null, ...payload }));
  }

  private dispatchTo(session: GatewaySession, type: string, data: unknown): void {
    session.sequence += 1;
    this.send(session, { op: OP.dispatch, t: type, s: session.sequence, d: data });
  }

  /** Sends an event to every identified session. */
  dispatch(type: string, data: unknown): void {
    for (const session of this.sessions) if (session.identified) this.dispatchTo(session, type, data);
  }

  /** MESSAGE_CREATE / MESSAGE_UPDATE, with content withheld where Discord withholds it. */
  dispatchMessage(type: 'MESSAGE_CREATE' | 'MESSAGE_UPDATE', message: WireMessage): void {
    const inDm = message.guild_id === undefined;
    for (const session of this.sessions) {
      if (!session.identified || !(session.intents & (inDm ? INTENTS.directMessages : INTENTS.guildMessages))) continue;
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
