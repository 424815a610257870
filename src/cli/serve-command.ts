import pino from 'pino';
import { runConsumers, type AnnalsConfig, type AnyProjection, type Consumer, type EventStore, type RunConsumersOptions, type RunProjectionsOptions } from '../index.js';
import { runOutboxRelay } from '../outbox/run-outbox-relay.js';
import { startRetention } from '../retention/retention-runner.js';
import { startRunner } from './run-options.js';
import { listenForStop } from './signals.js';
import { ExitCodes, UsageError } from './usage-error.js';

/** What `annals serve` (API only) and `annals start` (API and workers) are given. */
export interface ServeInput {
  store: EventStore;
  config: AnnalsConfig;
  /** The database, for the first log line (`embedded PGlite in ./.annals-data (DATABASE_URL is not set), schema "annals"`). */
  database: string;
  /**
   * The projections and consumers (process managers) to run in this process (`annals
   * start`), with the config's outboxes' relays; none for `annals serve`.
   */
  workers?: { projections: readonly AnyProjection[]; consumers: readonly Consumer[]; options: RunProjectionsOptions };
  env?: NodeJS.ProcessEnv;
}

const serverPackages = ['fastify', 'mercurius', 'graphql'];

/**
 * Runs the GraphQL service of the config's `service` until SIGTERM or SIGINT, with the
 * projections' workers in the same process when asked: migrates nothing (run `annals
 * migrate` first, or let `npm start` do it), prints the URL, then on the signal stops
 * accepting, drains the requests in flight, stops the workers (their batches commit or
 * roll back, leases are released) and exits 0. Logs are pino's JSON lines on stdout.
 *
 * @throws UsageError when the config has no `service`, or the server's packages are not
 * installed; the service's ValidationError for a malformed PORT, HOST or option.
 */
export async function serveCommand(input: ServeInput): Promise<number> {
  const { store, config, database, workers } = input;
  const env = input.env ?? process.env;
  if (config.service === undefined) {
    throw new UsageError('the config has no service: add service: { parts: [...] } to its default export (docs/server.md, "Running it")');
  }
  const server = await importServer();
  const logger = pino({ name: 'annals', level: env.LOG_LEVEL || 'info' });
  const composed = server.composeSchema(config.service.parts as Parameters<typeof server.composeSchema>[0]);
  const options = config.service.options ?? {};
  const service = await server.createService({
    ...options,
    store,
    ...composed,
    logger,
    // The environment's settings win over the config's: they are the deployment's.
    security: { ...(options.security as object | undefined), ...server.securityFromEnvironment(env) },
    // Their status, metrics and admin fields, whether or not their relays run here.
    outboxes: config.outboxes ?? [],
  } as Parameters<typeof server.createService>[0]);
  // The relays running here report what they publish to the service's metrics.
  const relayMetrics = server.outboxRelayMetrics(service.app);

  let runners: { ready: Promise<void>; stop(): Promise<void> }[] = [];
  let workersState: { state: 'starting' } | { state: 'running' } | { state: 'failed'; error: unknown } = { state: 'starting' };
  const stop = listenForStop((signal) => logger.info({ signal }, 'stopping: draining requests, then the workers'));
  try {
    const outboxes = workers === undefined ? [] : (config.outboxes ?? []);
    if (workers !== undefined && workers.projections.length + workers.consumers.length + outboxes.length + (config.retention ? 1 : 0) > 0) {
      runners = [
        ...(workers.projections.length > 0 ? [startRunner(store, workers.projections, { ...workers.options, inline: config.inline ?? [], logger })] : []),
        // Process managers and relays run on the same engine, with the options they share.
        ...(workers.consumers.length > 0 ? [runConsumers(store, workers.consumers, { ...engineOptions(workers.options), logger })] : []),
        // A broker that is down does not fail readiness: ready means set up and leasing;
        // the relay retries the publishes with backoff (docs/outbox.md, "Running the relay").
        ...outboxes.map((outbox) => runOutboxRelay(store, outbox, { ...relayOptions(workers.options, outbox.consumerName), logger: logger.child({ outbox: outbox.name }), metrics: relayMetrics })),
        // The retention job, every runEveryMs: it removes only what no reader still needs.
        ...(config.retention ? [startRetention(store, config.retention, { logger: logger.child({ job: 'retention' }), onRun: server.retentionRunMetrics(service.app) })] : []),
      ];
      Promise.all(runners.map((runner) => runner.ready)).then(
        () => (workersState = { state: 'running' }),
        (error: unknown) => {
          workersState = { state: 'failed', error };
          logger.error({ err: error }, 'the projection workers failed to start');
        },
      );
      service.addReadinessCheck({
        name: 'projection-workers',
        check: async () => {
          if (workersState.state === 'failed') throw workersState.error;
          if (workersState.state === 'starting') throw new Error('the projection workers are starting');
        },
      });
    }
    const url = await service.listen(server.listenOptionsFromEnvironment(env));
    const running = [...(workers?.projections ?? []), ...(workers?.consumers ?? []), ...outboxes.map((outbox) => ({ name: outbox.consumerName }))].map((worker) => worker.name);
    logger.info({ url: `${url}/graphql`, database, workers: running }, 'annals service listening');
    // People starting it by hand look for this line; the JSON above is for log shippers.
    process.stderr.write(`annals: GraphQL at ${url}/graphql on ${database}\n`);
    await stop.received;
    await service.close();
    await Promise.all(runners.map((runner) => runner.stop()));
    logger.info('stopped');
    return ExitCodes.ok;
  } catch (error) {
    await service.close();
    await Promise.all(runners.map((runner) => runner.stop().catch(() => {})));
    throw error;
  } finally {
    stop.dispose();
    // A relay closes its outbox's publishers when it stops; without one here (annals serve),
    // an admin retry may have opened them (a NATS connection) and nothing else closes them.
    if (workers === undefined) await Promise.allSettled((config.outboxes ?? []).map((outbox) => outbox.close()));
  }
}

/** The options of projection workers that consumers' take too (not batch sizes, rebuilds or inline projections). */
function engineOptions(options: RunProjectionsOptions): RunConsumersOptions {
  const { workerId, pollIntervalMs, leaseTtlMs, retries, onFailure } = options;
  return Object.fromEntries(Object.entries({ workerId, pollIntervalMs, leaseTtlMs, retries, onFailure }).filter(([, value]) => value !== undefined));
}

/**
 * The options of projection workers that an outbox relay takes: its own retries are of
 * publishes (the relay's defaults), not of handlers. A given worker id gets the relay's
 * consumer name after it, so each engine of the process keeps a worker row of its own.
 */
function relayOptions(options: RunProjectionsOptions, consumer: string): { workerId?: string; pollIntervalMs?: number; leaseTtlMs?: number } {
  const { workerId, pollIntervalMs, leaseTtlMs } = options;
  return {
    ...(workerId === undefined ? {} : { workerId: `${workerId}:${consumer}` }),
    ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
    ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
  };
}

/** 'annals/server', loaded only by the commands that need it, so the rest work without its packages. */
async function importServer(): Promise<typeof import('../server/index.js')> {
  try {
    return await import('../server/index.js');
  } catch (error) {
    const missing = serverPackages.find((name) => (error as Error).message?.includes(`'${name}'`));
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && missing !== undefined) {
      throw new UsageError(`the service needs ${serverPackages.join(', ')} (npm install ${serverPackages.join(' ')}): '${missing}' is not installed`);
    }
    throw error;
  }
}
