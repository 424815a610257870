import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { annalsFromSources } from '../cli/support/cli.js';
import { closedPort } from '../database/support/unreachable.js';
import { wsClient } from '../subscriptions/support/ws-client.js';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';
import { graphqlRequest, npmStartArguments, startServiceProcess, type ServiceProcess } from './support/service-process.js';

const start = await npmStartArguments();
const run = promisify(execFile);

/**
 * The README's curl examples, each with the answer its comment shows: every `curl` line
 * (with its continuation) of the README's first `sh` block that has them.
 */
async function readmeCurls(): Promise<{ command: string; answer: string }[]> {
  const readme = await readFile(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const block = /```sh\n(# a mutation[\s\S]*?)```/.exec(readme)![1]!;
  const lines = block.replace(/\\\n\s*/g, '').split('\n');
  return lines.flatMap((line, index) => (line.startsWith('curl ') ? [{ command: line, answer: lines[index + 1]!.replace(/^# /, '') }] : []));
}
const { schema } = useTestSchema('npm_start');

const likePost = (post: string, user: string) => `mutation { likePost(postId: "${post}", userId: "${user}") { streamId version position } }`;
const postQuery = (post: string) => `{ post(id: "${post}") { id likes likedBy(first: 10) { edges { node { id } } } } }`;

/** A like through one process, read back through `reader` with the mutation's position: the read sees it. */
async function likeThenRead(writer: ServiceProcess, reader: ServiceProcess, post: string, user: string): Promise<unknown> {
  const liked = await graphqlRequest(writer.url, likePost(post, user));
  expect(liked.body.errors).toBeUndefined();
  const { position } = liked.body.data!.likePost as { position: string };
  const read = await graphqlRequest(reader.url, postQuery(post), { 'annals-min-position': position });
  expect(read.body.errors).toBeUndefined();
  return read.body.data!.post;
}

// `npm start` as a user runs it: a real child process serving the example domains, with
// nothing installed (PGlite) and on Postgres; and the API and the workers scaled out.
describe('npm start: the service and the workers in one process', () => {
  // A child process that boots PGlite (WebAssembly) and migrates, twice: minutes on a loaded 2-core machine.
  it('runs on an embedded PGlite when DATABASE_URL is not set: a mutation, a query that reads it, a live subscription; stops on SIGTERM with 0, and starts again on the same data', { timeout: 300_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'annals-start-'));
    try {
      // The example config's outbox publishes to NATS_URL: a port nothing listens on, so the
      // relay retries quietly and the shared NATS server gets nothing from this test.
      const env = { DATABASE_URL: '', ANNALS_DATA_DIR: dataDir, ANNALS_SCHEMA: '', NATS_URL: `nats://127.0.0.1:${await closedPort()}` };
      const first = await startServiceProcess(start, env);
      expect(first.stderr()).toContain(`embedded PGlite in ${dataDir} (DATABASE_URL is not set)`);
      expect(first.stderr()).toMatch(/applied 0001_event_store, 0002_snapshots/);
      const ready = await fetch(`${first.url}/readyz`).then((response) => response.json());
      expect(ready).toMatchObject({ status: 'ready', checks: [{ name: 'event-store', status: 'ok' }, { name: 'projection-workers', status: 'ok' }] });
      expect(await likeThenRead(first, first, 'p1', 'ada')).toEqual({ id: 'p1', likes: 1, likedBy: { edges: [{ node: { id: 'ada' } }] } });
      // A live subscription on PGlite too: the current count, then the next like's.
      const client = wsClient(first.url);
      const likes = client.subscribe<{ postLikes: { likes: number } }>('subscription { postLikes(postId: "p1") { likes position } }');
      await likes.waitFor((values) => values.some((value) => value.postLikes.likes === 1), 'the current count', 120_000);
      expect((await graphqlRequest(first.url, likePost('p1', 'edsger'))).body.errors).toBeUndefined();
      await likes.waitFor((values) => values.some((value) => value.postLikes.likes === 2), 'the count after a like', 120_000);
      await client.close();
      expect(await first.stop()).toBe(0);

      const second = await startServiceProcess(start, env);
      expect(second.stderr()).toContain('is up to date');
      expect(await likeThenRead(second, second, 'p1', 'grace')).toMatchObject({ id: 'p1', likes: 3 });
      expect(await second.stop()).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('runs on the Postgres in DATABASE_URL', { timeout: 120_000 }, async () => {
    const service = await startServiceProcess(start, { DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema });
    try {
      expect(service.stderr()).toMatch(/GraphQL at http:\/\/127\.0\.0\.1:\d+\/graphql on PostgreSQL at /);
      expect(await likeThenRead(service, service, 'pg-1', 'ada')).toMatchObject({ id: 'pg-1', likes: 1 });
      // The order flow: its process manager runs in the same process and confirms an order with stock and credit.
      for (const mutation of [
        'receiveStock(sku: "pen", quantity: 10) { position }',
        'openPaymentAccount(payer: "ada", creditLimit: 100000) { position }',
        'placeOrder(orderId: "o1", customerId: "ada", lines: [{ sku: "pen", quantity: 2, unitPrice: 150 }]) { position }',
      ]) {
        expect((await graphqlRequest(service.url, `mutation { ${mutation} }`)).body.errors).toBeUndefined();
      }
      await expect.poll(async () => (await graphqlRequest(service.url, '{ order(id: "o1") { status } }')).body.data?.order, { timeout: 60_000 }).toEqual({ status: 'confirmed' });
      // The README's curl examples, as a user pastes them, with this service's address and the position it returns.
      const curls = await readmeCurls();
      expect(curls).toHaveLength(2);
      const documented = /"position":"(\d+)"/.exec(curls[0]!.answer)![1]!;
      let position = '';
      for (const { command, answer } of curls) {
        const { stdout } = await run('bash', ['-c', command.replaceAll('localhost:4000', service.url.replace('http://', '')).replaceAll(documented, position || documented)]);
        position ||= /"position":"(\d+)"/.exec(stdout)![1]!;
        expect(JSON.parse(stdout)).toEqual(JSON.parse(answer.replaceAll(documented, position)));
      }
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });

  it('takes its API keys from ANNALS_API_KEYS: a mutation without the key is refused before it runs, with it it runs', { timeout: 120_000 }, async () => {
    const service = await startServiceProcess(['serve', '--migrate'], { DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema, ANNALS_API_KEYS: 'ops:a-long-secret-key-for-tests' });
    try {
      const refused = await graphqlRequest(service.url, likePost('keyed', 'ada'));
      expect(refused.status).toBe(401);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const allowed = await graphqlRequest(service.url, likePost('keyed', 'ada'), { authorization: 'Bearer a-long-secret-key-for-tests' });
      expect(allowed.body.errors).toBeUndefined();
      expect(allowed.body.data!.likePost).toMatchObject({ streamId: 'post-keyed', version: 1 });
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });

  it('scales out: two API processes (annals serve) and a worker process (annals projections run); a write through one is read through the other', { timeout: 180_000 }, async () => {
    const env = { DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema, NATS_URL: `nats://127.0.0.1:${await closedPort()}` };
    // The first migrates (the schema exists from the test above, but the file's tests must not depend on one another).
    const one = await startServiceProcess(['serve', '--migrate'], env);
    const workers = spawn(process.execPath, [...annalsFromSources, 'projections', 'run'], { cwd: join(import.meta.dirname, '..', '..'), env: { ...process.env, ...env } });
    const workersExit = new Promise<number | null>((resolve) => workers.on('exit', resolve));
    const two = await startServiceProcess(['serve'], env);
    try {
      const ready = (await fetch(`${one.url}/readyz`).then((response) => response.json())) as { checks: { name: string }[] };
      // API only: no workers in this process to check.
      expect(ready.checks.map((check) => check.name)).toEqual(['event-store']);
      const users = ['ada', 'grace', 'edsger', 'barbara', 'ken', 'dennis'];
      const reads = await Promise.all(users.map((user, index) => likeThenRead(index % 2 ? one : two, index % 2 ? two : one, 'scaled', user)));
      for (const read of reads) expect((read as { likes: number }).likes).toBeGreaterThanOrEqual(1);
      const last = await graphqlRequest(one.url, postQuery('scaled'));
      expect(last.body.data!.post).toMatchObject({ likes: users.length });
    } finally {
      expect(await Promise.all([one.stop(), two.stop()])).toEqual([0, 0]);
      workers.kill('SIGTERM');
      expect(await workersExit).toBe(0);
    }
  });

  it('refuses to start, in one line naming the cause, on a DATABASE_URL that is no Postgres URL or a server it cannot reach', { timeout: 120_000 }, async () => {
    const port = await closedPort();
    for (const [url, message] of [
      ['mysql://ada:hunter2@db.example/app', /^annals: DATABASE_URL: must be a PostgreSQL URL/],
      [`postgres://postgres@127.0.0.1:${port}/test`, /^annals: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ .*connection refused/],
    ] as const) {
      const failed = await startServiceProcess(start, { DATABASE_URL: url }).then(
        (service) => service.stop().then(() => expect.unreachable(`started on ${url}`)),
        (error: Error) => error.message,
      );
      expect(failed.split('\n')[1]).toMatch(message);
      expect(failed).not.toContain('hunter2');
    }
  });
});
