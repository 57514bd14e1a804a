/** `gas demo`: the built-in synthetic scene, edited with the colour world and the offline planner. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withColourWorldDefaults } from './colour-world.js';
import { DEMO_REQUEST, demoScenePng } from './demo-scene.js';
import { checkOutDir, parseEditFlags, runEditCommand, type EditFlags, type EditSettings } from './edit-command.js';
import type { NameOf } from './flag-values.js';
import type { CliIo } from './io.js';

/** `settings.planner` is the offline planner unless one was asked for: the demo needs no key. */
export async function runDemoCommand(flags: EditFlags, settings: EditSettings, io: CliIo, name: NameOf): Promise<void> {
  parseEditFlags(flags, name);
  const outDir = resolve(flags.out ?? join('out', 'demo'));
  checkOutDir(outDir, name('out'));
  const models = withColourWorldDefaults({ bundle: settings.models.bundle, detector: settings.models.detector });
  mkdirSync(outDir, { recursive: true });
  const scene = join(outDir, 'scene.png');
  writeFileSync(scene, await demoScenePng());
  const result = await runEditCommand(scene, DEMO_REQUEST, { ...flags, out: outDir, steps: flags.steps ?? '200', seed: flags.seed ?? '7' }, { ...settings, models: { ...settings.models, ...models } }, io, name);
  const print = (line: string) => io.stdout.write(`${line}\n`);
  print(`Edited ${scene}: "${DEMO_REQUEST}" (seed ${result.seed})`);
  result.plan.subtasks.forEach((s, k) => print(`  ${k + 1}. ${s.source} → ${s.target}`));
  for (const file of result.files) print(`  ${file}`);
}
