/**
 * The `gas` command's parser and its top-level error handling. Each command imports what it
 * runs (ONNX Runtime, BullMQ, the planners) inside its action, so `gas --help` and a refused
 * option load none of it.
 */
import { Command, CommanderError, Option } from 'commander';
import { GasError, isGasError } from '../errors.js';
import { ABLATIONS, SCHEDULES } from '../distill/engine.js';
import { EXECUTION_PROVIDERS } from '../models/providers.js';
import { DETECTOR_VARIANTS } from '../ground/detector.js';
import { PLANNERS } from '../plan/planner-names.js';
import { colourWorldBundleDir } from '../../models/colour-world/paths.js';
import type { EditFlags } from './edit-command.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { describeFailure } from './failure-words.js';
import { flagName, nonEmpty, type NameOf } from './flag-values.js';
import { processIo, type CliIo } from './io.js';
import type { QueueFlags, SubmitFlags } from './queue-commands.js';
import type { WorkerFlags } from './worker-command.js';
import type { BotFlags } from './discord-command.js';
import type { ServeFlags } from './serve-command.js';
import type { ModelsFlags, PullFlags } from './models-command.js';
import type { BuildRandomFlags } from './build-random-command.js';
import type { ManifestFlags } from './slack-command.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const oneOfText = (values: readonly string[]) => values.join(' | ');

/** How messages name an option: its environment variable when the value came from there, else the flag. */
function namesFor(command: Command): NameOf {
  return (key) => {
    const option = command.options.find((o) => o.attributeName() === key);
    return command.getOptionValueSource(key) === 'env' && option?.envVar ? option.envVar : flagName(key);
  };
}

/** Options that decide the plan and its regions: shared by `edit`, `plan` and `demo`. */
function planningOptions(command: Command): Command {
  return command
    .option('--out <dir>', 'folder for the output files (default: out/<image name>)')
    .addOption(new Option('--provider <name>', `ONNX Runtime execution provider: ${oneOfText(EXECUTION_PROVIDERS)}`).env('GAS_PROVIDER').default('cpu'))
    .addOption(new Option('--planner <name>', `who turns the request into a plan: ${oneOfText(PLANNERS)} (default: openai when OPENAI_API_KEY is set, else offline)`).env('GAS_PLANNER'))
    .addOption(new Option('--detector <dir>', 'GroundingDINO export (transformers ONNX layout) that finds each object').env('GAS_DETECTOR'))
    .addOption(new Option('--detector-variant <name>', `which detector model file: ${oneOfText(DETECTOR_VARIANTS)} (default fp32)`).env('GAS_DETECTOR_VARIANT'))
    .option('--box-threshold <p>', 'detector box threshold', '0.35')
    .option('--text-threshold <p>', 'detector text threshold', '0.25')
    .option('--box <phrase=x0,y0,x1,y1>', 'the region of one object yourself, in 0–1 image coordinates (repeatable)', collect, [])
    .option('--plan <file>', 'an explicit plan.json instead of a request (see the README)');
}

function editOptions(command: Command): Command {
  return planningOptions(command)
    .addOption(new Option('--bundle <dir>', 'diffusion model bundle (diffusers ONNX layout)').env('GAS_BUNDLE').default(colourWorldBundleDir()))
    .option('--steps <n>', 'iterations (the reference runs 500)')
    .option('--seed <n>', 'random seed; the same inputs and seed give the same bytes')
    .option('--schedule <name>', `how terms are combined per iteration: ${oneOfText(SCHEDULES)}`, 'aggregated')
    .option('--ablate <name>', `one of the paper's ablations: ${oneOfText(ABLATIONS)}`)
    .option('--no-composite', 'keep the whole decoded image instead of compositing the regions over the original')
    .option('--previews', 'also write latent previews every 10% of the steps', false)
    .option('--max-side <px>', 'longer side of the working image, a multiple of 64', '512')
    .option('--intensity <list>', 'per-subtask intensity, comma-separated in plan order (0 skips one)')
    .option('--allow-random-weights', 'run a bundle with random weights (gas models build-random): to measure speed, its edits are noise');
}

function queueOptions(command: Command): Command {
  return command
    .option('--redis-url <url>', 'Redis (default: $REDIS_URL, else the local Redis on port 6379)')
    .addOption(new Option('--prefix <prefix>', 'Redis key prefix of this deployment').env('GAS_PREFIX').default('gas'))
    .addOption(new Option('--user <id>', 'act as this user (default: cli:<login name>)').env('GAS_USER'));
}

/** Ids a queue command stores: an empty one would be saved as nobody's, so it is refused up front. */
function checkIds(flags: { user?: string; channel?: string; thread?: string }, name: NameOf): void {
  nonEmpty(flags.user, name('user'), 'alice');
  nonEmpty(flags.channel, name('channel'), 'general');
  nonEmpty(flags.thread, name('thread'), 'holiday-photos');
}

async function withRedisUrl<T extends Omit<QueueFlags, 'redisUrl'> & { redisUrl?: string }>(flags: T): Promise<T & QueueFlags> {
  const { redisUrl } = await import('../jobs/redis.js');
  return { ...flags, redisUrl: flags.redisUrl ?? redisUrl() };
}

/** The worker's models and settings: shared by `worker` and `serve`. */
function workerOptions(command: Command): Command {
  return command
    .addOption(new Option('--bundle <dir>', 'diffusion model bundle (diffusers ONNX layout)').env('GAS_BUNDLE').default(colourWorldBundleDir()))
    .addOption(new Option('--provider <name>', `ONNX Runtime execution provider: ${oneOfText(EXECUTION_PROVIDERS)}`).env('GAS_PROVIDER').default('cpu'))
    .addOption(new Option('--detector <dir>', 'GroundingDINO export (default with the colour-world bundle: its detector)').env('GAS_DETECTOR'))
    .addOption(new Option('--detector-variant <name>', `which detector model file: ${oneOfText(DETECTOR_VARIANTS)} (default fp32)`).env('GAS_DETECTOR_VARIANT'))
    .addOption(new Option('--planner <name>', `who plans sentence requests: ${oneOfText(PLANNERS)}`).env('GAS_PLANNER'))
    .addOption(new Option('--concurrency <n>', 'edits at once (1 per GPU)').env('GAS_CONCURRENCY').default('1'))
    .addOption(new Option('--ops-port <port>', 'serve /healthz and /metrics on this port').env('GAS_OPS_PORT'))
    .addOption(new Option('--ops-host <host>', 'address for /healthz and /metrics').env('GAS_OPS_HOST').default('127.0.0.1'))
    .addOption(new Option('--steps <n>', 'iterations for jobs that do not say').env('GAS_STEPS'))
    .addOption(new Option('--lock-ms <ms>', "a job's lock; another worker takes over a dead worker's job after it").env('GAS_LOCK_MS').default('30000'))
    .addOption(new Option('--stalled-ms <ms>', "how often to look for dead workers' jobs").env('GAS_STALLED_MS').default('30000'))
    .addOption(new Option('--preview-ms <ms>', 'a preview at most this often').env('GAS_PREVIEW_MS').default('2000'))
    .addOption(new Option('--timeout-ms <ms>', 'stop an edit that runs longer, as failed (timeout)').env('GAS_JOB_TIMEOUT_MS').default('900000'))
    .option('--allow-random-weights', 'run a bundle with random weights (gas models build-random): to measure speed, its edits are noise');
}

/** The bot's flags: `discord` and `serve` (its settings come from DISCORD_* variables). */
function botOptions(command: Command): Command {
  return command
    .option('--redis-url <url>', 'Redis (default: $REDIS_URL, else the local Redis on port 6379)')
    .addOption(new Option('--prefix <prefix>', 'Redis key prefix of this deployment').env('GAS_PREFIX').default('gas'));
}

export function buildProgram(io: CliIo = processIo): Command {
  const print = (line: string) => io.stdout.write(`${line}\n`);
  const program = new Command('gas')
    .description('Ground-A-Score image editing: one subtask per object, grounded, aggregated.')
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .showHelpAfterError()
    .exitOverride();

  editOptions(program.command('edit <image> [request]'))
    .description('edit an image: "turn the dog into a tiger and the grass into snow" (or --plan plan.json)')
    .action(async (image: string, request: string | undefined, flags: EditFlags, command: Command) => {
      const { runEditCommand } = await import('./edit-command.js');
      const result = await runEditCommand(image, request, flags, io, namesFor(command));
      print(`seed ${result.seed}`);
      for (const file of result.files) print(file);
    });

  planningOptions(program.command('plan <image> [request]'))
    .description('print the plan as JSON and write the mask overlay, to check the regions before editing')
    .action(async (image: string, request: string | undefined, flags: EditFlags, command: Command) => {
      const { runPlanCommand } = await import('./edit-command.js');
      const result = await runPlanCommand(image, request, flags, namesFor(command));
      print(JSON.stringify(result.plan, null, 2));
      for (const file of result.files) io.stderr.write(`${file}\n`);
    });

  editOptions(program.command('demo'))
    .description('edit a built-in synthetic scene with the colour-world bundle and detector, and print where the files are')
    .action(async (flags: EditFlags, command: Command) => {
      const { runDemoCommand } = await import('./demo-command.js');
      await runDemoCommand(flags, io, namesFor(command));
    });

  workerOptions(queueOptions(program.command('worker'))
    .description('run a GPU worker: take edits from the queue until SIGTERM (the running edit is handed back)'))
    .action(async (flags: WorkerFlags, command: Command) => {
      const { runWorkerCommand } = await import('./worker-command.js');
      await runWorkerCommand(flags, namesFor(command));
    });

  const discord = botOptions(program.command('discord'))
    .description('run the Discord bot until SIGTERM (settings: DISCORD_TOKEN, DISCORD_APP_ID, …; see the README)')
    .addOption(new Option('--ops-port <port>', 'serve /healthz and /metrics on this port').env('GAS_OPS_PORT'))
    .addOption(new Option('--ops-host <host>', 'address for /healthz and /metrics').env('GAS_OPS_HOST').default('127.0.0.1'))
    .action(async (flags: BotFlags, command: Command) => {
      const { runDiscordCommand } = await import('./discord-command.js');
      await runDiscordCommand(flags, namesFor(command));
    });
  discord
    .command('register')
    .description('register /edit and the "Edit image" message command (globally, or in one server with --guild)')
    .option('--guild <id>', 'register in this server only (shows at once; global takes up to an hour)')
    .action(async (flags: { guild?: string }, command: Command) => {
      const { runRegisterCommand } = await import('./discord-command.js');
      print(await runRegisterCommand(flags, namesFor(command)));
    });

  const slack = botOptions(program.command('slack'))
    .description('run the Slack bot until SIGTERM (settings: SLACK_BOT_TOKEN, SLACK_APP_TOKEN or SLACK_SIGNING_SECRET, …; see the README)')
    .addOption(new Option('--ops-port <port>', 'serve /healthz and /metrics on this port').env('GAS_OPS_PORT'))
    .addOption(new Option('--ops-host <host>', 'address for /healthz and /metrics').env('GAS_OPS_HOST').default('127.0.0.1'))
    .action(async (flags: BotFlags, command: Command) => {
      const { runSlackCommand } = await import('./slack-command.js');
      await runSlackCommand(flags, namesFor(command));
    });
  slack
    .command('manifest')
    .description('print the Slack app manifest (YAML) with the scopes and events the bot uses: Socket Mode, or HTTP mode with --request-url')
    .option('--request-url <url>', 'HTTP mode: the public https URL Slack sends events and button presses to (…/slack/events)')
    .option('--name <name>', 'the app and bot user name', 'Ground-A-Score')
    .action(async (flags: ManifestFlags, command: Command) => {
      const { runManifestCommand } = await import('./slack-command.js');
      io.stdout.write(runManifestCommand(flags, namesFor(command)));
    });

  workerOptions(botOptions(program.command('serve')))
    .description('run the bots and a GPU worker in one process (one machine): gas serve --discord, --slack, or both')
    .option('--discord', 'serve Discord (DISCORD_TOKEN, DISCORD_APP_ID, …)', false)
    .option('--slack', 'serve Slack (SLACK_BOT_TOKEN, SLACK_APP_TOKEN or SLACK_SIGNING_SECRET, …)', false)
    .action(async (flags: ServeFlags, command: Command) => {
      const { runServeCommand } = await import('./serve-command.js');
      await runServeCommand(flags, namesFor(command));
    });

  const models = program.command('models').description('known-good model exports: list them, pull one from the Hugging Face hub (HF_ENDPOINT, HF_TOKEN)');
  const manifestOption = () => new Option('--manifest <file>', 'a JSON manifest whose entries are added to the built-in ones').env('GAS_MODELS_MANIFEST');
  models
    .command('list')
    .description('the known exports, their sizes, and what is already under models/')
    .addOption(manifestOption())
    .action(async (flags: ModelsFlags) => {
      const { runModelsList } = await import('./models-command.js');
      runModelsList(flags, io);
    });
  models
    .command('pull <name>')
    .description('download an export at its pinned commit, check every file, and open it as gas would')
    .option('--dir <dir>', 'where to put it (default: models/<name>)')
    .addOption(new Option('--provider <name>', 'execution provider for the load check').choices(EXECUTION_PROVIDERS).env('GAS_PROVIDER').default('cpu'))
    .addOption(manifestOption())
    .action(async (name: string, flags: PullFlags) => {
      const { runModelsPull } = await import('./models-command.js');
      await runModelsPull(name, flags, io);
    });

  models
    .command('build-random <shape>')
    .description('build a bundle with SD 1.5\'s architecture and seeded random weights (sd15-shape, or sd15-shape-tiny with fewer channels), to measure speed and memory: never for editing')
    .option('--dtype <type>', 'fp16 | fp32', 'fp16')
    .option('--dir <dir>', 'where to put it (default: models/build/<shape>-<dtype>)')
    .option('--seed <n>', 'weight seed', '1')
    .action(async (shape: string, flags: BuildRandomFlags, command: Command) => {
      const { runBuildRandom } = await import('./build-random-command.js');
      runBuildRandom(shape, flags, io, namesFor(command));
    });

  queueOptions(program.command('submit <image> [request]'))
    .description('enqueue an edit ("-" as the image continues --thread); prints the job id and position, or with --wait its events as JSON lines')
    .option('--plan <file>', 'an explicit plan instead of a request')
    .option('--channel <id>', 'channel the job belongs to', 'shell')
    .option('--thread <id>', 'a thread: its next edit starts from its latest result')
    .option('--steps <n>', 'iterations')
    .option('--seed <n>', 'random seed')
    .option('--priority <n>', '0 (first) to 1000', '0')
    .option('--wait', 'follow the job and print its events until it ends', false)
    .action(async (image: string, request: string | undefined, flags: Omit<SubmitFlags, 'redisUrl'>, command: Command) => {
      const name = namesFor(command);
      checkIds(flags, name);
      const { runSubmitCommand } = await import('./queue-commands.js');
      const last = await runSubmitCommand(image, request, await withRedisUrl(flags), print, name);
      if (last?.type === 'failed') throw new GasError(last.code, describeFailure(last.code, last.details, { jobId: last.jobId }));
      if (last?.type === 'cancelled') throw new GasError('cancelled', 'The edit was cancelled.');
    });

  queueOptions(program.command('cancel <jobId>'))
    .description("cancel an edit (yours, or anyone's for admins)")
    .action(async (jobId: string, flags: Omit<QueueFlags, 'redisUrl'>, command: Command) => {
      checkIds(flags, namesFor(command));
      const { runCancelCommand } = await import('./queue-commands.js');
      print(await runCancelCommand(jobId, await withRedisUrl(flags)));
    });

  queueOptions(program.command('undo'))
    .description('move a thread back one edit; prints the image its next edit starts from')
    .option('--channel <id>', 'channel of the thread', 'shell')
    .requiredOption('--thread <id>', 'the thread')
    .action(async (flags: Omit<QueueFlags, 'redisUrl'> & { channel: string; thread: string }, command: Command) => {
      checkIds(flags, namesFor(command));
      const { runUndoCommand } = await import('./queue-commands.js');
      print(await runUndoCommand(await withRedisUrl(flags)));
    });

  return program;
}

/**
 * Runs `gas` with `args` (without "node gas") and returns the exit code; everything it prints
 * goes to `io`, so tests can run it in-process.
 */
export async function main(args: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (isGasError(error)) {
      io.stderr.write(`\ngas: ${describeFailure(error.code, error.facts ?? {}, { fallback: error.message })}\n`);
      if (process.env.GAS_DEBUG) io.stderr.write(`${JSON.stringify(error.details ?? {}, null, 2)}\n`);
      return exitCodeFor(error.code);
    }
    io.stderr.write(`\ngas: unexpected error: ${(error as Error).message}\n${process.env.GAS_DEBUG ? (error as Error).stack : 'Set GAS_DEBUG=1 for details.'}\n`);
    return EXIT.failed;
  }
}
