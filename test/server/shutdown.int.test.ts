import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createService } from '../../src/server/create-service.js';
import { killAllScripts, startScript } from '../setup/child-process.js';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { postGraphQL, startService } from './support/http.js';

const store = await createTestStore('server_shutdown');
const schema = 'type Query { wait: String }';

/** A resolver that runs until the test lets it finish, and says when it has started. */
function gate() {
  let started!: () => void;
  let finish!: () => void;
  const hasStarted = new Promise<void>((resolve) => (started = resolve));
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const resolvers = {
    Query: {
      wait: async () => {
        started();
        await finished;
        return 'finished';
      },
    },
  };
  return { resolvers, hasStarted, finish };
}

/** A request on a connection of its own (no keep-alive pool): resolves with the status, or the connection error's code. */
function freshRequest(url: string, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    request(`${url}${path}`, { agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message)).end();
  });
}

describe('close()', () => {
  it('stops accepting, lets the request in flight finish, then resolves; the store stays open', async () => {
    const { resolvers, hasStarted, finish } = gate();
    const service = await startService({ store, schema, resolvers });
    const inFlight = postGraphQL(service.url, { query: '{ wait }' });
    await hasStarted;

    let closedAt = 0;
    const closing = service.close().then(() => (closedAt = Date.now()));
    // It stops listening at once (a connection racing with that is reset), and new
    // connections are refused while the request in flight still runs.
    await eventually(async () => expect(service.app.server.listening).toBe(false));
    expect(await freshRequest(service.url, '/healthz')).toBe('ECONNREFUSED');
    expect(closedAt).toBe(0);

    finish();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { wait: 'finished' } });
    // The answer tells the client not to reuse the connection, so close() need not wait
    // for the keep-alive timeout (72 s, past this test's timeout) to end it.
    expect(answer.headers.get('connection')).toBe('close');
    await closing;

    // The store belongs to its owner: still usable.
    expect(await store.headPosition()).toEqual(expect.any(BigInt));
    // And close() again is the same close.
    await service.close();
  });

  it('cuts the connections of requests still in flight at shutdownTimeoutMs', async () => {
    const { resolvers, hasStarted, finish } = gate();
    const service = await startService({ store, schema, resolvers, limits: { shutdownTimeoutMs: 300 } });
    const inFlight = postGraphQL(service.url, { query: '{ wait }' }).then(
      () => 'answered',
      () => 'connection cut',
    );
    await hasStarted;
    // The request never ends by itself: close() returns only because the connection is cut.
    await service.close();
    expect(await inFlight).toBe('connection cut');
    finish();
  });

  it('works before listen(), and a service that never listened needs no more', async () => {
    const service = await createService({ store, schema, resolvers: gate().resolvers, logger: 'silent' });
    await service.close();
    expect(service.url).toBeUndefined();
  });
});

describe('closeOnSignal, in a service process', () => {
  const script = fileURLToPath(new URL('./support/serve-until-signal.ts', import.meta.url));
  afterEach(() => killAllScripts());

  it.each(['SIGTERM', 'SIGINT'] as const)('on %s, answers the request in flight, closes the store and exits 0', { timeout: 120_000 }, async (signal) => {
    const lines: { msg: string; url?: string }[] = [];
    const child = startScript(script, { DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: store.schema, PORT: '0', NODE_ENV: 'production' }, (line) => {
      lines.push(JSON.parse(line) as { msg: string; url?: string });
    });
    const messages = () => lines.map((line) => line.msg);
    await child.waitUntil(() => messages().includes('ready'), 60_000, (why) => `the service ${why} before listening: ${child.stderr()}`);
    const url = lines.find((line) => line.msg === 'ready')!.url!;

    const inFlight = postGraphQL(url, { query: '{ wait(ms: 1000) }' });
    await child.waitUntil(() => messages().includes('resolver started'), 30_000, (why) => `the service ${why} before the resolver ran: ${child.stderr()}`);
    child.child.kill(signal);

    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { wait: 'waited 1000 ms' } });
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.stderr()).toBe('');
    const order = ['stopping: draining the requests in flight', 'store closed', 'stopped'];
    expect(messages().filter((message) => order.includes(message))).toEqual(order);
  });
});
