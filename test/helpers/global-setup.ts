/**
 * Once per test run: builds the colour-world bundles (as `npm run models:colour` does) and makes
 * sure Redis answers on 127.0.0.1:6379, starting a throwaway one when none runs, as .ci/run does.
 */
import { spawnSync } from 'node:child_process';
import { buildColourWorld, COLOUR_WORLD_VARIANTS } from '../../models/colour-world/build.js';
import { buildColourWorldDetector } from '../../models/colour-world/detector.js';
import { colourWorldBundleDir, colourWorldDetectorDir } from '../../models/colour-world/paths.js';

const redisUp = () => spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';

function ensureRedis(): void {
  if (redisUp()) return;
  const started = spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'], { encoding: 'utf8' });
  if (started.error) throw new Error('The queue tests need Redis 7 on 127.0.0.1:6379, and redis-server is not installed (apt-get install redis-server).');
  for (let i = 0; i < 50 && !redisUp(); i++) spawnSync('sleep', ['0.1']);
  if (!redisUp()) throw new Error('Started redis-server, but it does not answer on 127.0.0.1:6379.');
}

export default function setup(): void {
  buildColourWorld(colourWorldBundleDir('standard'), COLOUR_WORLD_VARIANTS.standard);
  buildColourWorld(colourWorldBundleDir('scalar'), COLOUR_WORLD_VARIANTS.scalar);
  buildColourWorldDetector(colourWorldDetectorDir());
  ensureRedis();
}
