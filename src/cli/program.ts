/** The `gas` command's parser and its top-level error handling. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { isGasError } from '../errors.js';
import { ABLATIONS, SCHEDULES } from '../distill/engine.js';
import { EXECUTION_PROVIDERS } from '../models/session.js';
import { buildColourWorld, COLOUR_WORLD_VARIANTS, isCurrentColourWorld } from '../../models/colour-world/build.js';
import { colourWorldBundleDir } from '../../models/colour-world/paths.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { runEditCommand, type EditFlags } from './edit-command.js';
import { DEMO_PLAN, demoScenePng } from './demo-scene.js';

function editOptions(command: Command): Command {
  return command
    .option('--out <dir>', 'folder for edit.png, masks.png and previews (default: out/<image name>)')
    .addOption(new Option('--bundle <dir>', 'diffusion model bundle (diffusers ONNX layout)').env('GAS_BUNDLE').default(colourWorldBundleDir()))
    .addOption(new Option('--provider <name>', 'ONNX Runtime execution provider').choices(EXECUTION_PROVIDERS).env('GAS_PROVIDER').default('cpu'))
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

  editOptions(program.command('edit <image>'))
    .description('edit an image with an explicit plan (subtasks, full prompts, boxes)')
    .requiredOption('--plan <file>', 'plan.json: {"subtasks": [{"source", "target", "box": [x0, y0, x1, y1]}], "full": {"source", "target"}}')
    .action(async (image: string, flags: EditFlags) => {
      const result = await runEditCommand(image, flags);
      console.log(`seed ${result.seed}`);
      for (const file of result.files) console.log(file);
    });

  editOptions(program.command('demo'))
    .description('edit a built-in synthetic scene with the colour-world bundle and print where the files are')
    .action(async (flags: EditFlags) => {
      const outDir = resolve(flags.out ?? join('out', 'demo'));
      const bundle = colourWorldBundleDir();
      const variant = COLOUR_WORLD_VARIANTS.standard;
      if (resolve(flags.bundle) === bundle && !isCurrentColourWorld(bundle, variant)) buildColourWorld(bundle, variant);
      mkdirSync(outDir, { recursive: true });
      const scene = join(outDir, 'scene.png');
      const plan = join(outDir, 'plan.json');
      writeFileSync(scene, await demoScenePng());
      writeFileSync(plan, `${JSON.stringify(DEMO_PLAN, null, 2)}\n`);
      const result = await runEditCommand(scene, { ...flags, plan, out: outDir, steps: flags.steps ?? '200', seed: flags.seed ?? '7' });
      console.log(`Edited ${scene} with ${plan} (seed ${result.seed}):`);
      for (const file of result.files) console.log(`  ${file}`);
    });

  return program;
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
