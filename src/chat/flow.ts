/**
 * The platform-neutral chat flow (docs/architecture.md, "The chat flow"): what a person does on a
 * platform reaches it through the transport, and it decides everything they experience, once for
 * every platform. Its parts: intake (requests and thread replies become jobs), the status
 * follower (one status message per job, kept up to date from the job's events) and the button
 * actions. Everything it must remember lives in Redis, so a restarted bot resumes every
 * unfinished status message from the last event it rendered, and buttons keep working.
 */
import { Leases, processHolderId } from '../jobs/lease.js';
import { ButtonActions } from './actions.js';
import { EditBudget } from './edit-budget.js';
import { DEFAULT_CHAT_FLOW_CONFIG, type ChatContext, type ChatFlowConfig, type ChatFlowDeps } from './context.js';
import { MessageDedupe } from './dedupe.js';
import { Intake } from './intake.js';
import { JobRecords } from './job-records.js';
import { StatusFollower } from './status-follower.js';
import type { ChatFlowHandlers, IncomingButton, IncomingEdit, IncomingMessage } from './transport.js';

export { DEFAULT_CHAT_FLOW_CONFIG, type ChatFlowConfig, type ChatFlowDeps } from './context.js';

/** A status's lease: a dead bot process's statuses are taken over within this and one lease tick. */
export const STATUS_LEASE_MS = 6000;

export class ChatFlow implements ChatFlowHandlers {
  readonly config: ChatFlowConfig;
  private readonly context: ChatContext;
  private readonly follower: StatusFollower;
  private readonly intake: Intake;
  private readonly actions: ButtonActions;

  constructor(deps: ChatFlowDeps) {
    // Records live as long as the queue keeps the jobs' events, unless told otherwise.
    this.config = { ...DEFAULT_CHAT_FLOW_CONFIG, ttlSeconds: deps.queue.config.ttlSeconds, ...deps.config };
    const { maxImageBytes, ttlSeconds } = this.config;
    if (!(Number.isInteger(maxImageBytes) && maxImageBytes >= 1)) throw new Error(`maxImageBytes must be a whole number of at least 1 (got ${maxImageBytes}).`);
    if (!(Number.isInteger(ttlSeconds) && ttlSeconds >= 1)) throw new Error(`ttlSeconds must be a whole number of at least 1 (got ${ttlSeconds}).`);
    const { config: _config, leases, ...rest } = deps;
    const { transport } = deps;
    const budget = transport.editBudget ? () => transport.editBudget?.() : undefined;
    this.context = {
      ...rest,
      config: this.config,
      platform: deps.transport.platform,
      records: new JobRecords(deps.redis, deps.keys, ttlSeconds),
      dedupe: new MessageDedupe(deps.redis, deps.keys),
      leases: leases ?? new Leases(deps.redis, processHolderId(), { ttlMs: STATUS_LEASE_MS }),
      ...(budget ? { budget: new EditBudget(deps.redis, deps.keys, budget) } : {}),
    };
    this.follower = new StatusFollower(this.context);
    this.intake = new Intake(this.context, this.follower);
    this.actions = new ButtonActions(this.context, this.follower);
  }

  /** Takes over every unfinished status no living bot process follows, then starts taking events. */
  async start(): Promise<void> {
    await this.startFollowing();
    await this.connect();
  }

  /** Shares the following of status messages with the other bot processes, without taking events. */
  async startFollowing(): Promise<void> {
    await this.follower.start();
  }

  /** Connects to the platform and starts taking events. */
  async connect(): Promise<void> {
    await this.context.transport.start(this);
  }

  /** Stops taking events; statuses go on being followed. */
  async disconnect(): Promise<void> {
    await this.context.transport.stop();
  }

  /** Stops taking events and following jobs; the jobs themselves keep running, and `start` picks them up again. */
  async stop(): Promise<void> {
    try {
      await this.disconnect();
    } finally {
      await this.follower.stop();
    }
  }

  /** Jobs whose status messages this flow is keeping up to date now. */
  followedJobs(): string[] {
    return this.follower.jobs();
  }

  editRequest(request: IncomingEdit): Promise<void> {
    return this.intake.editRequest(request);
  }

  threadMessage(message: IncomingMessage): Promise<void> {
    return this.intake.threadMessage(message);
  }

  buttonPressed(press: IncomingButton): Promise<void> {
    return this.actions.buttonPressed(press);
  }
}
