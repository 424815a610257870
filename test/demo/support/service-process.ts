import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { annalsFromSources } from '../../cli/support/cli.js';

const root = join(import.meta.dirname, '..', '..', '..');

/** The arguments of `npm start`'s script after `tsx src/cli/main.ts`, read from package.json so that the two cannot drift apart. */
export async function npmStartArguments(): Promise<string[]> {
  const { scripts } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const match = /^tsx src\/cli\/main\.ts (.+)$/.exec(scripts.start);
  if (!match) throw new Error(`npm start is '${scripts.start}', not 'tsx src/cli/main.ts ...'`);
  return match[1]!.split(' ');
}

export interface ServiceProcess {
  /** `http://127.0.0.1:<port>`, from the line the command prints once it listens. */
  url: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code (null when a signal killed it). */
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Runs `annals <args>` from the sources in the repository's root (so it loads
 * annals.config.ts, the example service) on a free port, and resolves once it prints its
 * URL; rejects with its output if it exits first.
 */
export function startServiceProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...annalsFromSources, ...args], { cwd: root, env: { PORT: '0', LOG_LEVEL: 'warn', ...env } });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => (running.delete(child), resolve(code))));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const listening = /annals: GraphQL at (http:\/\/[^/\s]+)\/graphql/.exec(stderr);
      // Later output matches too; a promise settles once, so only the first counts.
      if (listening) {
        resolve({
          url: listening[1]!,
          child,
          stdout: () => stdout,
          stderr: () => stderr,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`annals ${args.join(' ')} exited with ${code} before listening:\n${stderr}\n${stdout}`)));
  });
}

/** POSTs a GraphQL request; the status and the parsed body. */
export async function graphqlRequest(
  url: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] } }> {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return { status: response.status, body: (await response.json()) as never };
}
