import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore, type EventStore } from '../../src/index.js';
import type { ReadinessReport } from '../../src/server/readiness.js';
import { createTestStore, testDatabaseUrl, useTestSchema } from '../setup/database.js';
import { getJson, startService } from './support/http.js';

const schema = 'type Query { ok: Boolean }';
const store = await createTestStore('server_health');
const { schema: unmigratedSchema } = useTestSchema('server_health_unmigrated');
const { schema: olderSchema } = useTestSchema('server_health_older');

// Stores of the tests' own, closed after the file: the service never closes the store it is given.
const madeStores: EventStore[] = [];
afterAll(() => Promise.all(madeStores.map((made) => made.close())));
function storeOn(connection: Parameters<typeof createEventStore>[0], storeSchema?: string): EventStore {
  const made = createEventStore(connection, storeSchema === undefined ? {} : { schema: storeSchema });
  madeStores.push(made);
  return made;
}

describe('/healthz', () => {
  it('answers 200 while the process serves, whatever the database', async () => {
    const unreachable = storeOn({ connectionString: 'postgres://postgres@127.0.0.1:1/x' });
    const service = await startService({ store: unreachable, schema });
    const { status, body, headers } = await getJson(service.url, '/healthz');
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ok' });
    expect(headers.get('cache-control')).toBe('no-store');
  });
});

describe('/readyz', () => {
  it('answers 200 when the database answers and the schema is migrated', async () => {
    const service = await startService({ store, schema });
    const { status, body } = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ready', checks: [{ name: 'event-store', status: 'ok', durationMs: expect.any(Number) }] });
  });

  it('answers 503 naming ANNALS_NOT_MIGRATED for a schema never migrated', async () => {
    const service = await startService({ store: storeOn({ connectionString: testDatabaseUrl }, unmigratedSchema), schema });
    const { status, body } = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(status).toBe(503);
    expect(body).toEqual({
      status: 'not-ready',
      checks: [{ name: 'event-store', status: 'failed', durationMs: expect.any(Number), code: 'ANNALS_NOT_MIGRATED', message: expect.stringContaining(unmigratedSchema) }],
    });
  });

  it('answers 503 for a schema migrated by an older release only, naming the first migration missing', async () => {
    // Given a schema as a deploy finds it before its migrate step: the newest migration not
    // recorded (its tables are there, which the check does not look at)
    const older = storeOn({ connectionString: testDatabaseUrl }, olderSchema);
    await older.migrate();
    const migrations = `"${olderSchema}".annals_migrations`;
    const [last] = await older.withTransaction((tx) =>
      tx.query<{ version: number; name: string; checksum: string }>(
        `DELETE FROM ${migrations} WHERE version = (SELECT max(version) FROM ${migrations}) RETURNING version, name, checksum`,
      ),
    );
    const service = await startService({ store: older, schema });

    const { status, body } = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(status).toBe(503);
    expect(body.checks[0]).toMatchObject({ code: 'ANNALS_NOT_MIGRATED', message: expect.stringContaining(`it has no migration ${last!.name}`) });

    // Then once it is recorded again, the same process is ready: no restart needed
    await older.withTransaction((tx) => tx.query(`INSERT INTO ${migrations} (version, name, checksum) VALUES ($1, $2, $3)`, [last!.version, last!.name, last!.checksum]));
    expect((await getJson(service.url, '/readyz')).status).toBe(200);
  });

  it('answers 503 naming ANNALS_DATABASE_UNREACHABLE when nothing listens at the database address', async () => {
    const service = await startService({ store: storeOn({ connectionString: 'postgres://postgres@127.0.0.1:1/x' }), schema });
    const { status, body } = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(status).toBe(503);
    expect(body.checks).toEqual([
      { name: 'event-store', status: 'failed', durationMs: expect.any(Number), code: 'ANNALS_DATABASE_UNREACHABLE', message: expect.stringContaining('127.0.0.1:1') },
    ]);
  });

  it('in production, names the code but keeps the database address out of the answer', async () => {
    const service = await startService({
      store: storeOn({ connectionString: 'postgres://postgres@127.0.0.1:1/x' }),
      schema,
      environment: 'production',
    });
    const { status, body } = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(status).toBe(503);
    expect(body.checks[0]).toMatchObject({ code: 'ANNALS_DATABASE_UNREACHABLE' });
    expect(JSON.stringify(body)).not.toContain('127.0.0.1');
  });

  it('runs the checks the caller adds, given or added later, and reports each', async () => {
    let workersRunning = true;
    const service = await startService({
      store,
      schema,
      readinessChecks: [
        {
          name: 'projection-workers',
          async check() {
            if (!workersRunning) throw new Error('the projection workers stopped');
          },
        },
      ],
    });
    expect((await getJson(service.url, '/readyz')).status).toBe(200);

    workersRunning = false;
    const stopped = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(stopped.status).toBe(503);
    expect(stopped.body.checks.map((check) => [check.name, check.status])).toEqual([
      ['event-store', 'ok'],
      ['projection-workers', 'failed'],
    ]);
    expect(stopped.body.checks[1]).toMatchObject({ code: 'READINESS_CHECK_FAILED', message: 'the projection workers stopped' });

    // A check added after start counts from the next probe; a name can be used once only.
    workersRunning = true;
    service.addReadinessCheck({ name: 'outbox', check: () => Promise.reject(new Error('outbox relay down')) });
    expect((await getJson<ReadinessReport>(service.url, '/readyz')).body.checks.map((check) => check.status)).toEqual(['ok', 'ok', 'failed']);
    expect(() => service.addReadinessCheck({ name: 'outbox', check: async () => {} })).toThrow(
      expect.objectContaining({ code: 'ANNALS_VALIDATION', field: 'check.name' }),
    );
  });

  it('answers within the readiness timeout when a check hangs, and aborts its signal', async () => {
    let aborted: unknown;
    const service = await startService({
      store,
      schema,
      limits: { readinessTimeoutMs: 200 },
      readinessChecks: [
        {
          name: 'hangs',
          // As a check should: it gives up when its signal aborts.
          check: (signal) =>
            new Promise<void>((_resolve, reject) => {
              signal.addEventListener('abort', () => {
                aborted = signal.reason;
                reject(signal.reason as Error);
              });
            }),
        },
      ],
    });
    const { status, body } = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(status).toBe(503);
    expect(body.checks[1]).toMatchObject({ name: 'hangs', status: 'failed', code: 'READINESS_CHECK_TIMEOUT' });
    expect(aborted).toBeInstanceOf(Error);
  });
});

describe('/readyz on PGlite (what npm start runs on)', () => {
  it('answers 503 until the embedded store is migrated, then 200', { timeout: 180_000 }, async () => {
    const embedded = storeOn({ pglite: 'memory://' });
    const service = await startService({ store: embedded, schema, limits: { readinessTimeoutMs: 60_000 } });
    const before = await getJson<ReadinessReport>(service.url, '/readyz');
    expect(before.status).toBe(503);
    expect(before.body.checks[0]).toMatchObject({ code: 'ANNALS_NOT_MIGRATED' });
    await embedded.migrate();
    expect((await getJson(service.url, '/readyz')).status).toBe(200);
  });
});
