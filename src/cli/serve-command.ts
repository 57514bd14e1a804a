/** `gas serve`: the bots (Discord, Slack or both) and a GPU worker in one process, for a one-machine setup. */
import { startModelWorker } from '../../gpu-worker/main.js';
import { runBotProcess, type BotPart } from '../chat/bot-process.js';
import { GasError } from '../errors.js';
import { createLogger } from '../log.js';
import { botOptions, type BotFlags, type PlatformFlags } from './bot-options.js';
import type { NameOf } from './flag-values.js';
import { workerModelOptions, type WorkerFlags } from './worker-command.js';

export type ServeFlags = WorkerFlags & BotFlags & PlatformFlags;

/** Runs until SIGTERM or SIGINT; the running edit is handed back to the queue as `gas worker` does. */
export async function runServeCommand(flags: ServeFlags, name: NameOf): Promise<void> {
  if (!flags.discord && !flags.slack) throw new GasError('bad_input', 'Choose what to serve: gas serve --discord, gas serve --slack, or both.');
  const logger = createLogger('gas-serve');
  const models = workerModelOptions(flags, name);
  const options = await botOptions(flags, name, logger);
  const worker = async (shared: Parameters<typeof startModelWorker>[1]): Promise<BotPart> => {
    const running = await startModelWorker(models, shared);
    return {
      name: 'worker',
      healthy: () => running.worker.isRunning(),
      stop: () => running.close('handoff'),
      disconnect: () => running.disconnect(),
    };
  };
  await runBotProcess({ ...options, parts: [worker] });
}
