/** The `gas` command's parser and its top-level error handling. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { isGasError } from '../errors.js';
import { ABLATIONS, SCHEDULES } from '../distill/engine.js';
import { EXECUTION_PROVIDERS } from '../models/session.js';
import { PLANNERS } from '../plan/planner.js';
import { buildColourWorld, COLOUR_WORLD_VARIANTS, isCurrentColourWorld } from '../../models/colour-world/build.js';
import { buildColourWorldDetector, isCurrentColourWorldDetector } from '../../models/colour-world/detector.js';
import { colourWorldBundleDir, colourWorldDetectorDir } from '../../models/colour-world/paths.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { parseEditFlags, runEditCommand, runPlanCommand, type EditFlags } from './edit-command.js';
import { DEMO_REQUEST, demoScenePng } from './demo-scene.js';
import { runCancelCommand, runSubmitCommand, runUndoCommand, type QueueFlags, type SubmitFlags } from './queue-commands.js';
import { choosePlanner } from './edit-command.js';
import { DEFAULT_REDIS_URL } from '../jobs/redis.js';
import { runWorkerProcess } from '../../gpu-worker/main.js';
import type { ExecutionProvider } from '../models/session.js';
import type { PlannerName } from '../plan/planner.js';
import { GasError } from '../errors.js';

const collect = (value: string, previous: string[]) => [...previous, value];

/** Options that decide the plan and its regions: shared by `edit`, `plan` and `demo`. */
function planningOptions(command: Command): Command {
  return command
    .option('--out <dir>', 'folder for the output files (default: out/<image name>)')
    .addOption(new Option('--provider <name>', 'ONNX Runtime execution provider').choices(EXECUTION_PROVIDERS).env('GAS_PROVIDER').default('cpu'))
    .addOption(new Option('--planner <name>', 'who turns the request into a plan (default: openai when OPENAI_API_KEY is set, else offline)').choices(PLANNERS).env('GAS_PLANNER'))
    .addOption(new Option('--detector <dir>', 'GroundingDINO export (transformers ONNX layout) that finds each object').env('GAS_DETECTOR'))
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
    .addOption(new Option('--schedule <name>', 'how terms are combined per iteration').choices(SCHEDULES).default('aggregated'))
    .addOption(new Option('--ablate <name>', "one of the paper's ablations").choices(ABLATIONS))
    .option('--no-composite', 'keep the whole decoded image instead of compositing the regions over the original')
    .option('--previews', 'also write latent previews every 10% of the steps', false)
    .option('--max-side <px>', 'longer side of the working image, a multiple of 64', '512')
    .option('--intensity <list>', 'per-subtask intensity, comma-separated in plan order (0 skips one)');
}

export function buildProgram(): Command {
  const program = new Command('gas')
    .description('Ground-A-Score image editing: one subtask per object, grounded, aggregated.')
    .showHelpAfterError()
    .exitOverride();

  editOptions(program.command('edit <image> [request]'))
    .description('edit an image: "turn the dog into a tiger and the grass into snow" (or --plan plan.json)')
    .action(async (image: string, request: string | undefined, flags: EditFlags) => {
      const result = await runEditCommand(image, request, flags);
      console.log(`seed ${result.seed}`);
      for (const file of result.files) console.log(file);
    });

  planningOptions(program.command('plan <image> <request>'))
    .description('print the plan as JSON and write the mask overlay, to check the regions before editing')
    .action(async (image: string, request: string, flags: EditFlags) => {
      const result = await runPlanCommand(image, request, flags);
      console.log(JSON.stringify(result.plan, null, 2));
      for (const file of result.files) process.stderr.write(`${file}\n`);
    });

  editOptions(program.command('demo'))
    .description('edit a built-in synthetic scene with the colour-world bundle and detector, and print where the files are')
    .action(async (flags: EditFlags) => {
      parseEditFlags(flags);
      const outDir = resolve(flags.out ?? join('out', 'demo'));
      const variant = COLOUR_WORLD_VARIANTS.standard;
      const bundle = colourWorldBundleDir();
      if (resolve(flags.bundle) === bundle && !isCurrentColourWorld(bundle, variant)) buildColourWorld(bundle, variant);
      const detector = flags.detector ?? colourWorldDetectorDir();
      if (resolve(detector) === colourWorldDetectorDir() && !isCurrentColourWorldDetector(detector)) buildColourWorldDetector(detector);
      mkdirSync(outDir, { recursive: true });
      const scene = join(outDir, 'scene.png');
      writeFileSync(scene, await demoScenePng());
      const result = await runEditCommand(scene, DEMO_REQUEST, {
        ...flags,
        detector,
        planner: flags.planner ?? 'offline',
        out: outDir,
        steps: flags.steps ?? '200',
        seed: flags.seed ?? '7',
      });
      console.log(`Edited ${scene}: "${DEMO_REQUEST}" (seed ${result.seed})`);
      result.plan.subtasks.forEach((s, k) => console.log(`  ${k + 1}. ${s.source} → ${s.target}`));
      for (const file of result.files) console.log(`  ${file}`);
    });

  queueOptions(program.command('worker'))
    .description('run a GPU worker: take edits from the queue until SIGTERM (the running edit is handed back)')
    .addOption(new Option('--bundle <dir>', 'diffusion model bundle (diffusers ONNX layout)').env('GAS_BUNDLE').default(colourWorldBundleDir()))
    .addOption(new Option('--provider <name>', 'ONNX Runtime execution provider').choices(EXECUTION_PROVIDERS).env('GAS_PROVIDER').default('cpu'))
    .addOption(new Option('--detector <dir>', 'GroundingDINO export').env('GAS_DETECTOR'))
    .addOption(new Option('--planner <name>', 'who plans sentence requests').choices(PLANNERS).env('GAS_PLANNER'))
    .addOption(new Option('--concurrency <n>', 'edits at once (1 per GPU)').env('GAS_CONCURRENCY').default('1'))
    .addOption(new Option('--ops-port <port>', 'serve /healthz and /metrics on this port').env('GAS_OPS_PORT'))
    .addOption(new Option('--ops-host <host>', 'address for /healthz and /metrics').env('GAS_OPS_HOST').default('127.0.0.1'))
    .addOption(new Option('--steps <n>', 'iterations for jobs that do not say').env('GAS_STEPS'))
    .addOption(new Option('--lock-ms <ms>', "a job's lock; another worker takes over a dead worker's job after it").env('GAS_LOCK_MS').default('30000'))
    .addOption(new Option('--stalled-ms <ms>', "how often to look for dead workers' jobs").env('GAS_STALLED_MS').default('30000'))
    .addOption(new Option('--preview-ms <ms>', 'a preview at most this often').env('GAS_PREVIEW_MS').default('2000'))
    .addOption(new Option('--timeout-ms <ms>', 'stop an edit that runs longer, as failed (timeout)').env('GAS_JOB_TIMEOUT_MS').default('900000'))
    .action(async (flags: QueueFlags & Record<string, string | undefined>) => {
      const number = (name: string, min: number) => {
        const value = flags[name];
        if (value === undefined) return undefined;
        const n = Number(value);
        if (!Number.isInteger(n) || n < min) throw new GasError('bad_input', `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a whole number of at least ${min} (got "${value}").`);
        return n;
      };
      await runWorkerProcess({
        redisUrl: flags.redisUrl,
        prefix: flags.prefix,
        bundle: flags.bundle!,
        provider: flags.provider as ExecutionProvider,
        detector: flags.detector,
        planner: choosePlanner(flags.planner as PlannerName | undefined),
        opsPort: number('opsPort', 0),
        opsHost: flags.opsHost,
        worker: {
          concurrency: number('concurrency', 1),
          lockDurationMs: number('lockMs', 500),
          stalledIntervalMs: number('stalledMs', 100),
          previewIntervalMs: number('previewMs', 0),
          jobTimeoutMs: number('timeoutMs', 1000),
          ...(flags.steps ? { defaultSteps: number('steps', 1) } : {}),
        },
      });
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
    .action(async (image: string, request: string | undefined, flags: SubmitFlags) => {
      const last = await runSubmitCommand(image, request, flags, (line) => console.log(line));
      if (last?.type === 'failed') throw new GasError(last.code, last.userMessage);
      if (last?.type === 'cancelled') throw new GasError('cancelled', 'The edit was cancelled.');
    });

  queueOptions(program.command('cancel <jobId>'))
    .description('cancel an edit (yours, or anyone\'s for admins)')
    .action(async (jobId: string, flags: QueueFlags) => {
      console.log(await runCancelCommand(jobId, flags));
    });

  queueOptions(program.command('undo'))
    .description("move a thread back one edit; prints the image its next edit starts from")
    .option('--channel <id>', 'channel of the thread', 'shell')
    .requiredOption('--thread <id>', 'the thread')
    .action(async (flags: QueueFlags & { channel: string; thread: string }) => {
      console.log(await runUndoCommand(flags));
    });

  return program;
}

function queueOptions(command: Command): Command {
  return command
    .addOption(new Option('--redis-url <url>', 'Redis').env('REDIS_URL').default(DEFAULT_REDIS_URL))
    .addOption(new Option('--prefix <prefix>', 'Redis key prefix of this deployment').env('GAS_PREFIX').default('gas'))
    .addOption(new Option('--user <id>', 'act as this user (default: cli:<login name>)').env('GAS_USER'));
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (isGasError(error)) {
      process.stderr.write(`\ngas: ${error.message}\n`);
      if (process.env.GAS_DEBUG) process.stderr.write(`${JSON.stringify(error.details ?? {}, null, 2)}\n`);
      return exitCodeFor(error.code);
    }
    process.stderr.write(`\ngas: unexpected error: ${(error as Error).message}\n${process.env.GAS_DEBUG ? (error as Error).stack : 'Set GAS_DEBUG=1 for details.'}\n`);
    return EXIT.failed;
  }
}
