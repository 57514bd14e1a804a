/**
 * The core sections of the configuration: every setting of the service that is not a chat
 * platform's (those come from the platform registry, adapters/registry.ts). Each value's default
 * is the library's own, imported here, so the documentation and `gas config` show what runs.
 */
import { z } from 'zod';
import { DEFAULT_WORKER_CONFIG } from '../../gpu-worker/config.js';
import { colourWorldBundleDir } from '../../models/colour-world/paths.js';
import { MAX_STEPS } from '../distill/modes.js';
import { DEFAULT_CHAT_FLOW_CONFIG, DEFAULT_CHECK_MASKS } from '../chat/context.js';
import { CHECK_MODES, MAX_CHECK_TIMEOUT_MS } from '../jobs/contracts.js';
import { DETECTOR_VARIANTS } from '../ground/detector.js';
import { DEFAULT_QUEUE_CONFIG, DEFAULT_REDIS_URL } from '../jobs/queue-settings.js';
import { EXECUTION_PROVIDERS } from '../models/providers.js';
import { DEFAULT_OPS_HOST } from '../ops/ops-server.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../ops/shutdown.js';
import { PLANNERS } from '../plan/planner-names.js';
import { defineSection, oneOf, wholeNumber, type ConfigSection } from './section.js';

const MAX_PORT = 65_535;
const optionalText = () => z.string().optional();

export const redisSection = defineSection({
  name: 'redis',
  schema: z.object({ url: z.string().default(DEFAULT_REDIS_URL) }),
  variables: {
    url: { env: 'REDIS_URL', secret: 'url-password', description: 'Redis, shared by workers and bots', shownDefault: DEFAULT_REDIS_URL },
  },
});

export const queueSection = defineSection({
  name: 'queue',
  schema: z.object({
    // Keys are scanned by `<prefix>:*`: an empty prefix or a glob character would match other deployments' keys.
    prefix: z
      .string()
      .regex(/^[^\s*?[\]\\]+$/, { error: 'must be a key prefix without spaces or glob characters (* ? [ ] \\), e.g. gas' })
      .default('gas'),
    perUserLimit: wholeNumber(1).default(DEFAULT_QUEUE_CONFIG.perUserLimit),
    overLimit: oneOf(['queue', 'refuse']).default(DEFAULT_QUEUE_CONFIG.overLimit),
    maxHeldPerUser: wholeNumber(0).default(DEFAULT_QUEUE_CONFIG.maxHeldPerUser),
    maxQueueLength: wholeNumber(1).default(DEFAULT_QUEUE_CONFIG.maxQueueLength),
    admins: z.array(z.string()).default([]),
    ttlSeconds: wholeNumber(1).default(DEFAULT_QUEUE_CONFIG.ttlSeconds),
  }),
  variables: {
    prefix: { env: 'GAS_PREFIX', description: 'key prefix of this deployment in Redis' },
    perUserLimit: { env: 'GAS_PER_USER_LIMIT', kind: 'number', description: "jobs of one person in the queue at once; the next waits or is refused (GAS_OVER_LIMIT)" },
    overLimit: { env: 'GAS_OVER_LIMIT', description: 'a job over the per-person limit: `queue` (held back until one finishes) or `refuse`' },
    maxHeldPerUser: { env: 'GAS_MAX_HELD_PER_USER', kind: 'number', description: 'jobs of one person held back (waiting for their own to finish) at once; more are refused, so one person cannot fill the queue' },
    maxQueueLength: { env: 'GAS_MAX_QUEUE', kind: 'number', description: 'waiting jobs beyond which new ones get a "busy" answer' },
    admins: { env: 'GAS_ADMINS', kind: 'list', description: 'user ids (any platform) who may cancel, retry and undo anything', shownDefault: 'none' },
    ttlSeconds: { env: 'GAS_TTL_SECONDS', kind: 'number', description: 'life of images, events, threads and status records, in seconds' },
  },
});

export const workerSection = defineSection({
  name: 'worker',
  schema: z.object({
    concurrency: wholeNumber(1).default(DEFAULT_WORKER_CONFIG.concurrency),
    defaultSteps: wholeNumber(1, MAX_STEPS).default(DEFAULT_WORKER_CONFIG.defaultSteps),
    lockDurationMs: wholeNumber(500).default(DEFAULT_WORKER_CONFIG.lockDurationMs),
    stalledIntervalMs: wholeNumber(100).default(DEFAULT_WORKER_CONFIG.stalledIntervalMs),
    previewIntervalMs: wholeNumber(0).default(DEFAULT_WORKER_CONFIG.previewIntervalMs),
    jobTimeoutMs: wholeNumber(1000).default(DEFAULT_WORKER_CONFIG.jobTimeoutMs),
  }),
  variables: {
    concurrency: { env: 'GAS_CONCURRENCY', kind: 'number', description: 'edits a worker runs at once (1 per GPU)' },
    defaultSteps: { env: 'GAS_STEPS', kind: 'number', description: 'iterations of an edit whose request does not say' },
    lockDurationMs: { env: 'GAS_LOCK_MS', kind: 'number', description: "a running job's lock; another worker takes over a dead worker's job after it" },
    stalledIntervalMs: { env: 'GAS_STALLED_MS', kind: 'number', description: "how often a worker looks for dead workers' jobs" },
    previewIntervalMs: { env: 'GAS_PREVIEW_MS', kind: 'number', description: 'a preview image at most this often' },
    jobTimeoutMs: { env: 'GAS_JOB_TIMEOUT_MS', kind: 'number', description: 'an edit running longer fails with `timeout`' },
  },
});

export const modelsSection = defineSection({
  name: 'models',
  schema: z.object({
    bundle: z.string().default(colourWorldBundleDir()),
    provider: oneOf(EXECUTION_PROVIDERS).default('cpu'),
    detector: optionalText(),
    detectorVariant: oneOf(DETECTOR_VARIANTS).optional(),
  }),
  variables: {
    bundle: { env: 'GAS_BUNDLE', description: 'the diffusion bundle (diffusers ONNX layout)', shownDefault: 'the colour world, built when missing' },
    provider: { env: 'GAS_PROVIDER', description: 'ONNX Runtime execution provider: cpu, cuda or webgpu' },
    detector: { env: 'GAS_DETECTOR', description: 'a GroundingDINO export (transformers ONNX layout)', shownDefault: "none; with the colour world, its detector" },
    detectorVariant: { env: 'GAS_DETECTOR_VARIANT', description: 'which detector file: fp32, fp16 or quantized', shownDefault: 'fp32' },
  },
});

export const plannerSection = defineSection({
  name: 'planner',
  schema: z.object({
    name: oneOf(PLANNERS).optional(),
    apiKey: optionalText(),
    baseURL: optionalText(),
    model: optionalText(),
  }),
  variables: {
    name: { env: 'GAS_PLANNER', description: 'who turns a sentence into a plan: offline or openai', shownDefault: 'openai when OPENAI_API_KEY is set, else offline' },
    apiKey: { env: 'OPENAI_API_KEY', secret: true, description: 'key of the OpenAI-compatible planner (any value for a local server that ignores keys)', shownDefault: 'none' },
    baseURL: { env: 'OPENAI_BASE_URL', description: "the planner's `/v1` root, e.g. http://localhost:11434/v1 for Ollama", shownDefault: "OpenAI's" },
    model: { env: 'GAS_PLANNER_MODEL', description: 'a model that accepts images', shownDefault: 'gpt-4o-mini' },
  },
});

export const chatSection = defineSection({
  name: 'chat',
  schema: z.object({
    notifyAfterMs: wholeNumber(0).default(DEFAULT_CHAT_FLOW_CONFIG.notifyAfterMs),
    maxSteps: wholeNumber(1, MAX_STEPS).default(DEFAULT_CHAT_FLOW_CONFIG.maxSteps),
    checkMasks: oneOf(CHECK_MODES).default(DEFAULT_CHECK_MASKS),
    checkTimeoutMs: wholeNumber(1000, MAX_CHECK_TIMEOUT_MS).default(DEFAULT_CHAT_FLOW_CONFIG.checkTimeoutMs),
  }),
  variables: {
    notifyAfterMs: { env: 'GAS_NOTIFY_AFTER_MS', kind: 'number', description: 'an edit that ends (done or failed) longer than this after it was asked for pings its requester, once' },
    maxSteps: { env: 'GAS_MAX_STEPS', kind: 'number', description: 'the most iterations a request in chat may ask for' },
    checkMasks: {
      env: 'GAS_CHECK_MASKS',
      description: 'pause after grounding, before any GPU time, for the requester to check the masks and press Go: `always`, `unsure` (a phrase found in several places or nowhere, a region under 1% of the image, two regions overlapping by more than half, a detector score within 0.05 of its threshold) or `never`; the `check` option of a request (`/edit`) overrides it',
    },
    checkTimeoutMs: { env: 'GAS_CHECK_TIMEOUT_MS', kind: 'number', description: 'a check nobody answers within this long ends as expired (with Retry)' },
  },
});

export const opsSection = defineSection({
  name: 'ops',
  schema: z.object({
    port: wholeNumber(0, MAX_PORT).optional(),
    host: z.string().default(DEFAULT_OPS_HOST),
    shutdownTimeoutMs: wholeNumber(100, Number.MAX_SAFE_INTEGER, 'of milliseconds').default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
  }),
  variables: {
    port: { env: 'GAS_OPS_PORT', kind: 'number', description: 'serve /healthz and /metrics on this port (0: any free one)', shownDefault: 'off' },
    host: { env: 'GAS_OPS_HOST', description: 'address /healthz and /metrics listen on' },
    shutdownTimeoutMs: { env: 'GAS_SHUTDOWN_MS', kind: 'number', description: 'longest clean stop on SIGTERM before a process exits anyway (exit 3)' },
  },
});

export const logSection = defineSection({
  name: 'log',
  schema: z.object({ level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), debug: z.boolean() }),
  variables: {
    level: { env: 'LOG_LEVEL', description: 'log level of service processes (JSON lines on stderr)' },
    debug: { env: 'GAS_DEBUG', kind: 'flag', description: '`1`: `gas` prints the details of a refusal and stack traces', shownDefault: 'off' },
  },
});

export const hubSection = defineSection({
  name: 'hub',
  schema: z.object({
    endpoint: z
      .string()
      .default('https://huggingface.co')
      .refine((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), { error: 'HF_ENDPOINT must be an http(s) URL such as https://huggingface.co' })
      .transform((url) => url.replace(/\/+$/, '')),
    token: z.string().startsWith('hf_', { error: 'HF_TOKEN is not a Hugging Face token (they start with "hf_"); its value is not shown' }).optional(),
    manifest: optionalText(),
  }),
  variables: {
    endpoint: { env: 'HF_ENDPOINT', description: '`gas models pull`: the hub or a mirror' },
    token: { env: 'HF_TOKEN', secret: true, description: '`gas models pull`: a `hf_…` token for gated or private repos', shownDefault: 'none' },
    manifest: { env: 'GAS_MODELS_MANIFEST', description: '`gas models`: a JSON manifest of your own exports, added to the built-in one', shownDefault: 'none' },
  },
});

export const shellSection = defineSection({
  name: 'shell',
  schema: z.object({ user: optionalText() }),
  variables: {
    user: { env: 'GAS_USER', description: '`gas submit`, `cancel`, `undo`: the user they act as', shownDefault: 'cli:<login name>', blankRefused: { example: 'alice' } },
  },
});

/** Every core section, in the order `gas config` and the documentation show them. */
export const CORE_SECTIONS: readonly ConfigSection[] = [redisSection, queueSection, workerSection, modelsSection, plannerSection, chatSection, opsSection, logSection, hubSection, shellSection];
