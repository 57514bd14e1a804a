/**
 * The `gas` command's parser and its top-level error handling. Settings come from the
 * configuration (src/config), read at this edge with the flags that override them; the chat
 * platforms' commands come from the registry (adapters/registry.ts). Each command imports what it
 * runs (ONNX Runtime, BullMQ, a platform's client) inside its action, so `gas --help` and a
 * refused option load none of it.
 */
import { Command, CommanderError, Option } from 'commander';
import { PLATFORMS } from '../../adapters/registry.js';
import type { AnyPlatform } from '../chat/platform.js';
import { Configuration, processEnvironment, type Environment } from '../config/index.js';
import type { ConfigSection } from '../config/section.js';
import { hubSection, logSection, modelsSection, opsSection, plannerSection, queueSection, redisSection, workerSection } from '../config/sections.js';
import { ABLATIONS, SCHEDULES } from '../distill/modes.js';
import { GasError, isGasError } from '../errors.js';
import { DETECTOR_VARIANTS } from '../ground/detector.js';
import { EXECUTION_PROVIDERS } from '../models/providers.js';
import { PLANNERS } from '../plan/planner-names.js';
import type { EditFlags } from './edit-command.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { describeFailure } from './failure-words.js';
import { flagName, nonEmpty } from './flag-values.js';
import { processIo, type CliIo } from './io.js';
import type { SubmitFlags } from './queue-commands.js';
import type { BuildRandomFlags } from './build-random-command.js';
import { fromFlags, modelSettings, plannerSettings, queueSettings, shellUser, type Flags } from './settings.js';
import { variablesHelp } from './variables-help.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const oneOfText = (values: readonly string[]) => values.join(' | ');

/** What `main` runs with; tests give their own environment and platforms. */
export interface ProgramOptions {
  env?: Environment;
  /** The chat platforms (default: the registry's). */
  platforms?: readonly AnyPlatform[];
  /** Service commands stop when this settles instead of at SIGTERM or SIGINT. */
  until?: Promise<unknown>;
}

/** Options that decide the plan and its regions: shared by `edit`, `plan` and `demo`. */
function planningOptions(command: Command): Command {
  return command
    .option('--out <dir>', 'folder for the output files (default: out/<image name>)')
    .option('--provider <name>', `ONNX Runtime execution provider: ${oneOfText(EXECUTION_PROVIDERS)} (GAS_PROVIDER; default cpu)`)
    .option('--planner <name>', `who turns the request into a plan: ${oneOfText(PLANNERS)} (GAS_PLANNER; default: openai when OPENAI_API_KEY is set, else offline)`)
    .option('--detector <dir>', 'GroundingDINO export (transformers ONNX layout) that finds each object (GAS_DETECTOR)')
    .option('--detector-variant <name>', `which detector model file: ${oneOfText(DETECTOR_VARIANTS)} (GAS_DETECTOR_VARIANT; default fp32)`)
    .option('--box-threshold <p>', 'detector box threshold', '0.35')
    .option('--text-threshold <p>', 'detector text threshold', '0.25')
    .option('--box <phrase=x0,y0,x1,y1>', 'the region of one object yourself, in 0–1 image coordinates (repeatable)', collect, [])
    .option('--plan <file>', 'an explicit plan.json instead of a request (docs/cli.md)');
}

function editOptions(command: Command): Command {
  return planningOptions(command)
    .option('--bundle <dir>', 'diffusion model bundle, diffusers ONNX layout (GAS_BUNDLE; default: the colour world)')
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

/** Where the queue is: shared by every command that reaches Redis. */
function redisOptions(command: Command): Command {
  return command
    .option('--redis-url <url>', 'Redis (REDIS_URL; default the local Redis on port 6379)')
    .option('--prefix <prefix>', 'Redis key prefix of this deployment (GAS_PREFIX; default gas)');
}

function queueOptions(command: Command): Command {
  return redisOptions(command).option('--user <id>', 'act as this user (GAS_USER; default cli:<login name>)');
}

function opsOptions(command: Command): Command {
  return command
    .option('--ops-port <port>', 'serve /healthz and /metrics on this port (GAS_OPS_PORT)')
    .option('--ops-host <host>', 'address for /healthz and /metrics (GAS_OPS_HOST; default 127.0.0.1)');
}

/** The worker's models and settings: shared by `worker` and `serve`. */
function workerOptions(command: Command): Command {
  return opsOptions(command)
    .option('--bundle <dir>', 'diffusion model bundle, diffusers ONNX layout (GAS_BUNDLE; default: the colour world)')
    .option('--provider <name>', `ONNX Runtime execution provider: ${oneOfText(EXECUTION_PROVIDERS)} (GAS_PROVIDER; default cpu)`)
    .option('--detector <dir>', 'GroundingDINO export (GAS_DETECTOR; default with the colour-world bundle: its detector)')
    .option('--detector-variant <name>', `which detector model file: ${oneOfText(DETECTOR_VARIANTS)} (GAS_DETECTOR_VARIANT; default fp32)`)
    .option('--planner <name>', `who plans sentence requests: ${oneOfText(PLANNERS)} (GAS_PLANNER)`)
    .option('--concurrency <n>', 'edits at once, 1 per GPU (GAS_CONCURRENCY; default 1)')
    .option('--steps <n>', 'iterations for jobs that do not say (GAS_STEPS; default 500)')
    .option('--lock-ms <ms>', "a job's lock; another worker takes over a dead worker's job after it (GAS_LOCK_MS; default 30000)")
    .option('--stalled-ms <ms>', "how often to look for dead workers' jobs (GAS_STALLED_MS; default 30000)")
    .option('--preview-ms <ms>', 'a preview at most this often (GAS_PREVIEW_MS; default 2000)')
    .option('--timeout-ms <ms>', 'stop an edit that runs longer, as failed (GAS_JOB_TIMEOUT_MS; default 900000)');
}

/** Ids a queue command stores: an empty one would be saved as nobody's, so it is refused up front. */
function checkIds(flags: { user?: string; channel?: string; thread?: string }): void {
  nonEmpty(flags.user, '--user', 'alice');
  nonEmpty(flags.channel, '--channel', 'general');
  nonEmpty(flags.thread, '--thread', 'holiday-photos');
}

/** The sections a service command reads, for its --help. */
const SERVICE_SECTIONS: readonly ConfigSection[] = [redisSection, queueSection, opsSection, logSection];
const WORKER_SECTIONS: readonly ConfigSection[] = [workerSection, modelsSection, plannerSection];

export function buildProgram(io: CliIo = processIo, options: ProgramOptions = {}): Command {
  const env = options.env ?? processEnvironment();
  const platforms = options.platforms ?? PLATFORMS;
  const config = new Configuration(env, platforms.map((p) => p.config));
  const print = (line: string) => io.stdout.write(`${line}\n`);
  const editSettings = async (flags: Flags, planner: { defaultName?: 'offline' } = {}) => {
    const { choosePlanner } = await import('./planner-choice.js');
    const chosen = plannerSettings(config, flags);
    return { models: modelSettings(config, flags), planner: choosePlanner({ ...chosen, name: chosen.name ?? planner.defaultName }) };
  };
  const program = new Command('gas')
    .description('Ground-A-Score image editing: one subtask per object, grounded, aggregated.')
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .showHelpAfterError()
    .exitOverride();

  editOptions(program.command('edit <image> [request]'))
    .description('edit an image: "turn the dog into a tiger and the grass into snow" (or --plan plan.json)')
    .action(async (image: string, request: string | undefined, flags: EditFlags) => {
      const { runEditCommand } = await import('./edit-command.js');
      const result = await runEditCommand(image, request, flags, await editSettings(flags as unknown as Flags), io, flagName);
      print(`seed ${result.seed}`);
      for (const file of result.files) print(file);
    });

  planningOptions(program.command('plan <image> [request]'))
    .description('print the plan as JSON and write the mask overlay, to check the regions before editing')
    .option('--fix <reply>', 'correct the regions as in a chat check, e.g. "1 is the dog on the left", "drop 2", "2 is B3 to D5" (repeatable, in order)', collect, [])
    .action(async (image: string, request: string | undefined, flags: EditFlags) => {
      const { runPlanCommand } = await import('./edit-command.js');
      const result = await runPlanCommand(image, request, flags, await editSettings(flags as unknown as Flags), flagName);
      print(JSON.stringify(result.plan, null, 2));
      for (const file of result.files) io.stderr.write(`${file}\n`);
    });

  editOptions(program.command('demo'))
    .description('edit a built-in synthetic scene with the colour-world bundle and detector, and print where the files are')
    .action(async (flags: EditFlags) => {
      const { runDemoCommand } = await import('./demo-command.js');
      await runDemoCommand(flags, await editSettings(flags as unknown as Flags, { defaultName: 'offline' }), io, flagName);
    });

  workerOptions(redisOptions(program.command('worker')))
    .description('run a GPU worker: take edits from the queue until SIGTERM (the running edit is handed back)')
    .addHelpText('after', () => variablesHelp([...SERVICE_SECTIONS, ...WORKER_SECTIONS]))
    .action(async (flags: Flags) => {
      const { runWorkerCommand } = await import('./service-commands.js');
      await runWorkerCommand(config, flags, { log: io.stderr, until: options.until });
    });

  for (const platform of platforms) {
    const command = opsOptions(redisOptions(program.command(platform.name)))
      .description(`run the ${platform.title} bot until SIGTERM (settings below)`)
      .addHelpText('after', () => variablesHelp([platform.config, ...SERVICE_SECTIONS]))
      .action(async (flags: Flags) => {
        const { runBotCommand } = await import('./service-commands.js');
        await runBotCommand(config, flags, [platform], { log: io.stderr, until: options.until });
      });
    // The platform's own flags, each over one of its settings (`gas discord --shards 2`).
    for (const option of platform.options ?? []) command.option(option.flags, option.description, option.default);
    for (const sub of platform.commands ?? []) {
      const subcommand = command.command(sub.name).description(sub.description);
      for (const option of sub.options ?? []) subcommand.option(option.flags, option.description, option.default);
      subcommand.action(async (flags: Record<string, string | undefined>) => {
        const output = await sub.run({ flags, config: () => config.read(platform.config), nameOf: flagName });
        io.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
      });
    }
  }

  const serve = workerOptions(redisOptions(program.command('serve')))
    .description(`run the bots and a GPU worker in one process (one machine): ${platforms.map((p) => `--${p.name}`).join(', ')}, or several`)
    .addHelpText('after', () => variablesHelp([...platforms.map((p) => p.config), ...SERVICE_SECTIONS, ...WORKER_SECTIONS]));
  for (const platform of platforms) serve.option(`--${platform.name}`, `serve ${platform.title}`, false);
  serve.action(async (flags: Flags) => {
    const chosen = platforms.filter((p) => flags[p.name] === true);
    if (chosen.length === 0) throw new GasError('bad_input', `Choose what to serve: ${platforms.map((p) => `gas serve --${p.name}`).join(', ')}, or several.`);
    const { runServeCommand } = await import('./service-commands.js');
    await runServeCommand(config, flags, chosen, { log: io.stderr, until: options.until });
  });

  program
    .command('config')
    .description('print the effective configuration, variable by variable, with secrets hidden')
    .option('--markdown', 'as the Markdown tables of docs/operations.md (defaults, not this environment)', false)
    .action(async (flags: { markdown: boolean }) => {
      const { configReport, variableTables } = await import('./config-command.js');
      io.stdout.write(flags.markdown ? variableTables(config.sections) : configReport(config));
    });

  const models = program.command('models').description('known-good model exports: list them, pull one from the Hugging Face hub (HF_ENDPOINT, HF_TOKEN)');
  const manifestOption = () => new Option('--manifest <file>', 'a JSON manifest whose entries are added to the built-in ones (GAS_MODELS_MANIFEST)');
  models
    .command('list')
    .description('the known exports, their sizes, and what is already under models/')
    .addOption(manifestOption())
    .action(async (flags: Flags) => {
      const { runModelsList } = await import('./models-command.js');
      runModelsList({ manifest: config.read(hubSection, fromFlags(flags, { manifest: 'manifest' })).manifest }, io);
    });
  models
    .command('pull <name>')
    .description('download an export at its pinned commit, check every file, and open it as gas would')
    .option('--dir <dir>', 'where to put it (default: models/<name>)')
    .option('--provider <name>', `execution provider for the load check: ${oneOfText(EXECUTION_PROVIDERS)} (GAS_PROVIDER; default cpu)`)
    .addOption(manifestOption())
    .action(async (name: string, flags: Flags & { dir?: string }) => {
      const { runModelsPull } = await import('./models-command.js');
      const hub = config.read(hubSection, fromFlags(flags, { manifest: 'manifest' }));
      const { provider } = config.read(modelsSection, fromFlags(flags, { provider: 'provider' }));
      await runModelsPull(name, { manifest: hub.manifest, dir: flags.dir, provider }, hub, io);
    });

  models
    .command('build-random <shape>')
    .description("build a bundle with SD 1.5's architecture and seeded random weights (sd15-shape, or sd15-shape-tiny with fewer channels), to measure speed and memory: never for editing")
    .option('--dtype <type>', 'fp16 | fp32', 'fp16')
    .option('--dir <dir>', 'where to put it (default: models/build/<shape>-<dtype>)')
    .option('--seed <n>', 'weight seed', '1')
    .action(async (shape: string, flags: BuildRandomFlags) => {
      const { runBuildRandom } = await import('./build-random-command.js');
      runBuildRandom(shape, flags, io, flagName);
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
    .action(async (image: string, request: string | undefined, flags: Omit<SubmitFlags, 'redisUrl' | 'prefix' | 'queue'>) => {
      checkIds(flags);
      const { runSubmitCommand } = await import('./queue-commands.js');
      const settings = { ...flags, ...queueSettings(config, flags), user: shellUser(config, flags) };
      const last = await runSubmitCommand(image, request, settings, print, flagName);
      if (last?.type === 'failed') throw new GasError(last.code, describeFailure(last.code, last.details, { jobId: last.jobId }));
      if (last?.type === 'cancelled') throw new GasError('cancelled', 'The edit was cancelled.');
    });

  queueOptions(program.command('cancel <jobId>'))
    .description("cancel an edit (yours, or anyone's for admins)")
    .action(async (jobId: string, flags: { user?: string }) => {
      checkIds(flags);
      const { runCancelCommand } = await import('./queue-commands.js');
      print(await runCancelCommand(jobId, { ...queueSettings(config, flags), user: shellUser(config, flags) }));
    });

  queueOptions(program.command('undo'))
    .description('move a thread back one edit; prints the image its next edit starts from')
    .option('--channel <id>', 'channel of the thread', 'shell')
    .requiredOption('--thread <id>', 'the thread')
    .action(async (flags: { user?: string; channel: string; thread: string }) => {
      checkIds(flags);
      const { runUndoCommand } = await import('./queue-commands.js');
      print(await runUndoCommand({ ...flags, ...queueSettings(config, flags), user: shellUser(config, flags) }));
    });

  return program;
}

/**
 * Runs `gas` with `args` (without "node gas") and returns the exit code; everything it prints
 * goes to `io`, so tests can run it in-process.
 */
export async function main(args: readonly string[], io: CliIo = processIo, options: ProgramOptions = {}): Promise<number> {
  const env = options.env ?? processEnvironment();
  let debug = false;
  try {
    debug = new Configuration(env).read(logSection).debug;
  } catch {
    // A bad LOG_LEVEL is reported by the command that needs it.
  }
  try {
    await buildProgram(io, { ...options, env }).parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (isGasError(error)) {
      io.stderr.write(`\ngas: ${describeFailure(error.code, error.facts ?? {}, { fallback: error.message })}\n`);
      if (debug) io.stderr.write(`${JSON.stringify(error.details ?? {}, null, 2)}\n`);
      return exitCodeFor(error.code);
    }
    io.stderr.write(`\ngas: unexpected error: ${(error as Error).message}\n${debug ? (error as Error).stack : 'Set GAS_DEBUG=1 for details.'}\n`);
    return EXIT.failed;
  }
}
