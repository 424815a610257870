// No vitest import here: the benchmark (bench/outbox/) starts one too.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A nats-server with JetStream on a file store, of the test's own, on a free port of
 * 127.0.0.1: killed (SIGKILL) and started again on the same port and store, optionally
 * with another `max_payload` (the poison test raises it). The shared server at 4222 is
 * never touched. A missing binary fails the test rather than skip it.
 *
 * @example
 * ```ts
 * const nats = await startPrivateNats({ maxPayload: 4096 });
 * await nats.kill();
 * await nats.start({ maxPayload: 64 * 1024 });
 * await nats.stop();
 * ```
 */
export interface PrivateNats {
  readonly url: string;
  /** Starts the server again after `kill()`, on the same port and store; `maxPayload` replaces the limit. */
  start(options?: { maxPayload?: number }): Promise<void>;
  /** SIGKILL: no goodbye to clients, as a crash or a pulled cable. */
  kill(): Promise<void>;
  /** Kills the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export async function startPrivateNats(options: { maxPayload?: number } = {}): Promise<PrivateNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'annals-private-nats-'));
  const config = join(dir, 'nats.conf');
  let maxPayload = options.maxPayload;
  let child: ChildProcess | undefined;
  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);

  const kill = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  const start = async (restart: { maxPayload?: number } = {}) => {
    if (child !== undefined) throw new Error('the private nats-server is already running');
    maxPayload = restart.maxPayload ?? maxPayload;
    const lines = [`listen: "127.0.0.1:${port}"`, `jetstream { store_dir: "${join(dir, 'store')}" }`];
    if (maxPayload !== undefined) lines.push(`max_payload: ${maxPayload}`);
    writeFileSync(config, `${lines.join('\n')}\n`);
    const started = spawn('nats-server', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    started.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const failed = new Promise<never>((_resolve, reject) => {
      started.once('error', (error) => reject(new Error(`these tests start nats-server (with JetStream) and could not: ${error.message}`)));
      started.once('exit', (code) => reject(new Error(`nats-server exited with ${code} at start:\n${output}`)));
    });
    // Handled from the start: the server's exit after it came up (a kill) rejects it too.
    failed.catch(() => {});
    child = started;
    await Promise.race([waitForPort(port), failed]);
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    start,
    kill,
    async stop() {
      process.off('exit', onExit);
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port} within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
