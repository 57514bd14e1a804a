/**
 * A redis-server of a test's own, on a free port, for the faults the shared one must never see:
 * a restart, a password, an outage. Stopped (and its files left in a temp folder) by `stop`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './queue.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  port: number;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  /** Runs redis-cli against it (with its password). */
  cli(...args: string[]): string;
  /** Sets a new password and drops every client connection, so they must log in again: a password rotation. */
  rotatePassword(newPassword: string): void;
  /** Starts it again after `shutdown` (persistent: the data survives, as in production). */
  restart(): Promise<void>;
  /** Stops it (SHUTDOWN, so its data is saved) and waits for the process to exit. */
  shutdown(): Promise<void>;
  /** Stops it for good; safe to call twice. */
  stop(): Promise<void>;
}

export async function startPrivateRedis(options: { password?: string } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gas-redis-'));
  const auth = options.password ? ['-a', options.password, '--no-auth-warning'] : [];
  const cli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...auth, ...args], { encoding: 'utf8' });
  const ping = () => cli('ping').stdout.trim() === 'PONG';
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
      ...(options.password ? ['--requirepass', options.password] : []),
    ], { stdio: 'ignore' });
    await eventually(ping, 15_000, `the private Redis on port ${port}`);
  };
  const shutdown = async () => {
    const running = server;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    cli('shutdown');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`,
    cli: (...args) => cli(...args).stdout.trim(),
    rotatePassword(newPassword) {
      // One connection, so the commands after CONFIG SET still run as the logged-in client.
      spawnSync('redis-cli', ['-p', String(port), ...auth], {
        input: `CONFIG SET requirepass ${newPassword}\nCLIENT KILL TYPE pubsub\nCLIENT KILL TYPE normal SKIPME yes\n`,
        encoding: 'utf8',
      });
    },
    restart: start,
    shutdown,
    async stop() {
      const running = server;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((r) => running.once('exit', r));
      running.kill('SIGKILL');
      await exited;
    },
  };
}

/** A TCP server that accepts connections and never answers: a Redis that hangs. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((r) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => r());
    }),
  };
}
