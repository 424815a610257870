/**
 * Entry of the child process that ServiceProcess (service-processes.ts) forks for each
 * server of the service figures, and for the projection workers: the load generator runs
 * in the parent, so a server never shares its event loop (or its CPU time) with the load.
 *
 * argv[2] is the role as JSON. Protocol: the child sends { id: 0, ok, result } once it is
 * ready (for a server, result is its URL); the parent sends { id, op } and gets
 * { id, ok, result | error } back. `counts` answers what the server has done so far
 * (WorkCounter: requests, statements, CPU time); `close` stops it, and the process then exits by itself (so that
 * `--cpu-prof`, given through BENCH_CHILD_ARGV, writes its profile).
 */
import { Kysely, PostgresDialect } from 'kysely';
import type { EventStore } from '../../src/index.js';
import { startReadVariant, type ReadVariant } from './read-variants.js';
import { setUpStore, startGraphQLServer, startPlainServer, type RunningServer } from './servers.js';
import { countedPool, WorkCounter } from './work-counter.js';
import { loadLikesService } from './service-api.js';

export type ServiceRole =
  /**
   * The Annals GraphQL service; with `setUp`, it first migrates, seeds and catches up its
   * schema; with `variant`, one of read-cost.ts' lighter variants of it.
   */
  | { role: 'graphql'; databaseUrl: string; schema: string; poolSize: number; setUp?: { posts: number }; annalsRoot?: string; variant?: ReadVariant }
  /** The plain fastify routes, on a schema a GraphQL server set up. */
  | { role: 'plain'; databaseUrl: string; schema: string; poolSize: number }
  /** The projection workers of the likes parts (runProjections, default settings). */
  | { role: 'workers'; databaseUrl: string; schema: string; annalsRoot?: string };

export type ServiceRequest = { id: number; op: 'counts' | 'close' };
export type ServiceReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

function send(reply: ServiceReply, then?: () => void): void {
  process.send?.(reply, undefined, {}, then);
}

const describe = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));

async function open(role: ServiceRole, counter: WorkCounter): Promise<{ result: string; close(): Promise<void> }> {
  // The plain server is the yardstick: the working tree's store and aggregate, whatever the GraphQL server runs.
  const service = await loadLikesService(role.role === 'plain' ? undefined : role.annalsRoot);
  if (role.role === 'workers') {
    const store = service.annals.createEventStore({ connectionString: role.databaseUrl, maxConnections: 4 }, { schema: role.schema });
    const runner = service.annals.runProjections(store, service.projections);
    await runner.ready;
    // Ready once caught up with what the figures before appended: the first measured
    // read-your-writes query must not wait for a backlog.
    await service.annals.waitForProjections(store, service.projections, await store.headPosition(), { timeoutMs: 120_000 });
    return {
      result: 'ready',
      close: async () => {
        await runner.stop();
        await store.close();
      },
    };
  }
  const pool = countedPool(role.databaseUrl, role.poolSize, counter);
  const store: EventStore = service.annals.createEventStore(pool, { schema: role.schema });
  let server: RunningServer | undefined;
  try {
    if (role.role === 'graphql') {
      if (role.setUp) await setUpStore(store, service, role.setUp.posts, pool);
      server = role.variant
        ? await startReadVariant(role.variant, { service, store, pool, counter, db: new Kysely({ dialect: new PostgresDialect({ pool }) }) })
        : await startGraphQLServer(service, store, counter);
    } else {
      server = await startPlainServer(service, store, pool, counter);
    }
  } catch (error) {
    await store.close().catch(() => {});
    await pool.end().catch(() => {});
    throw error;
  }
  const running = server;
  return {
    result: running.url,
    // The service never closes the store it was given; the store never ends a pool it was given.
    close: async () => {
      await running.close();
      await store.close();
      await pool.end();
    },
  };
}

async function serve(role: ServiceRole): Promise<void> {
  const counter = new WorkCounter();
  let opened: Awaited<ReturnType<typeof open>>;
  try {
    opened = await open(role, counter);
  } catch (error) {
    // A half-opened server may hold a pool open: exit rather than wait for it.
    send({ id: 0, ok: false, error: describe(error) }, () => process.exit(1));
    return;
  }
  process.on('message', async (request: ServiceRequest) => {
    try {
      const result = request.op === 'counts' ? counter.counts() : await opened.close();
      send({ id: request.id, ok: true, result }, request.op === 'close' ? () => process.disconnect?.() : undefined);
    } catch (error) {
      send({ id: request.id, ok: false, error: describe(error) });
    }
  });
  // The parent gone (killed, Ctrl-C) or done with us: a listening server would keep this
  // process alive for ever. Its sockets close with it; Postgres ends their sessions.
  process.once('disconnect', () => process.exit(0));
  send({ id: 0, ok: true, result: opened.result });
}

await serve(JSON.parse(process.argv[2] ?? '') as ServiceRole);
