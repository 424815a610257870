import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createInbox } from '../../src/outbox/inbox.js';
import { eventually, testDatabaseUrl, useTestSchema } from '../setup/database.js';

const { schema } = useTestSchema('inbox');
const quoted = `"${schema}"`;

// Several pools, so deliveries really race from different connections.
const pools = Array.from({ length: 3 }, () => new pg.Pool({ connectionString: testDatabaseUrl, max: 5 }));
const kyselyPool = new pg.Pool({ connectionString: testDatabaseUrl, max: 5 });
const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: kyselyPool }) });
const admin = pools[0]!;
afterAll(async () => {
  await kysely.destroy();
  await Promise.all(pools.map((pool) => pool.end()));
});

/** An effect table of the test's own: one row per message, counting how often its effect ran. */
async function effectsTable(name: string): Promise<void> {
  await admin.query(`CREATE TABLE ${quoted}."${name}" (message_id text PRIMARY KEY, applied integer NOT NULL)`);
}
const applyEffect = (name: string, messageId: string) =>
  `INSERT INTO ${quoted}."${name}" VALUES ('${messageId}', 1) ON CONFLICT (message_id) DO UPDATE SET applied = "${name}".applied + 1`;

async function appliedCounts(name: string): Promise<Map<string, number>> {
  const { rows } = await admin.query<{ message_id: string; applied: number }>(`SELECT message_id, applied FROM ${quoted}."${name}"`);
  return new Map(rows.map((row) => [row.message_id, row.applied]));
}

describe('the inbox', () => {
  it('migrates idempotently, from several connections at once', async () => {
    const inbox = createInbox({ schema, table: 'migrated' });
    await Promise.all([...pools.map((pool) => inbox.migrate(pool)), inbox.migrate(kysely), inbox.migrate(admin)]);
    await inbox.migrate(admin);
    const { rows } = await admin.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'migrated' ORDER BY 1`, [schema]);
    expect(rows.map((row) => row.indexname)).toEqual(['migrated_pkey', 'migrated_processed_at']);
  });

  it('applies every effect exactly once under a redelivery storm (200 messages, 10 deliveries each, concurrently)', async () => {
    const inbox = createInbox({ schema });
    await inbox.migrate(admin);
    await effectsTable('storm');
    const ids = Array.from({ length: 200 }, (_, i) => `message-${i}`);
    const deliveries = ids.flatMap((id) => Array.from({ length: 10 }, (_, copy) => ({ id, copy })));
    // Shuffled, so copies of one id arrive interleaved and at once on different connections.
    deliveries.sort(() => Math.random() - 0.5);
    const outcomes = await Promise.all(
      deliveries.map(({ id, copy }) =>
        copy % 4 === 3
          ? inbox.receive(kysely, id, (tx) => sql.raw(applyEffect('storm', id)).execute(tx))
          : inbox.receive(pools[copy % pools.length]!, id, (tx) => tx.query(applyEffect('storm', id))),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'processed')).toHaveLength(200);
    expect(outcomes.filter((outcome) => outcome === 'duplicate')).toHaveLength(1800);
    const applied = await appliedCounts('storm');
    expect(applied.size).toBe(200);
    expect([...applied.values()].every((count) => count === 1)).toBe(true);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${quoted}.inbox`);
    expect(rows[0].n).toBe(200);
  });

  it('records nothing when the effect fails, so the redelivery applies it', async () => {
    const inbox = createInbox({ schema, table: 'failing' });
    await inbox.migrate(admin);
    await effectsTable('failing_effects');
    const failure = new Error('effect failed');
    await expect(
      inbox.receive(admin, 'm-1', async (tx) => {
        await tx.query(applyEffect('failing_effects', 'm-1'));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await appliedCounts('failing_effects')).toEqual(new Map());
    expect(await inbox.receive(admin, 'm-1', (tx) => tx.query(applyEffect('failing_effects', 'm-1')))).toBe('processed');
    expect(await inbox.receive(admin, 'm-1', (tx) => tx.query(applyEffect('failing_effects', 'm-1')))).toBe('duplicate');
    expect(await appliedCounts('failing_effects')).toEqual(new Map([['m-1', 1]]));
  });

  describe('a second delivery while the first is in flight', () => {
    const inbox = createInbox({ schema, table: 'in_flight' });

    /** Holds the first delivery's transaction open, its effect done, until `end` is called. */
    async function firstDeliveryHeldOpen(id: string): Promise<(how: 'COMMIT' | 'ROLLBACK') => Promise<void>> {
      await inbox.migrate(admin);
      const client = await admin.connect();
      await client.query('BEGIN');
      expect(await inbox.handleOnce(client, id, async () => {})).toBe('processed');
      return async (how) => {
        await client.query(how);
        client.release();
      };
    }

    /** Resolves once a backend waits on a lock while recording `id` (the second delivery). */
    async function waitingOnLock(): Promise<void> {
      await eventually(async () => {
        const { rows } = await admin.query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
          [`INSERT INTO ${quoted}."in_flight"%`],
        );
        expect(rows).toHaveLength(1);
      });
    }

    it('waits for it, then is a duplicate once it commits', async () => {
      const end = await firstDeliveryHeldOpen('waits-commit');
      let ran = false;
      const second = inbox.receive(pools[1]!, 'waits-commit', async () => void (ran = true));
      await waitingOnLock();
      await end('COMMIT');
      expect(await second).toBe('duplicate');
      expect(ran).toBe(false);
    });

    it('waits for it, then runs the effect itself if it rolls back', async () => {
      const end = await firstDeliveryHeldOpen('waits-rollback');
      let ran = false;
      const second = inbox.receive(pools[1]!, 'waits-rollback', async () => void (ran = true));
      await waitingOnLock();
      await end('ROLLBACK');
      expect(await second).toBe('processed');
      expect(ran).toBe(true);
    });
  });

  it('runs in a Kysely transaction of the caller with handleOnce, and refuses a Kysely instance there', async () => {
    const inbox = createInbox({ schema, table: 'kysely_tx' });
    await inbox.migrate(kysely);
    const outcomes = await kysely.transaction().execute(async (tx) => [
      await inbox.handleOnce(tx, 'k-1', async () => {}),
      await inbox.handleOnce(tx, 'k-1', async () => {}),
    ]);
    expect(outcomes).toEqual(['processed', 'duplicate']);
    // The types refuse it too; a caller without them gets an error rather than an autocommitted id.
    await expect(inbox.handleOnce(kysely as never, 'k-2', async () => {})).rejects.toBeInstanceOf(ValidationError);
    await expect(kysely.transaction().execute((tx) => inbox.receive(tx, 'k-3', async () => {}))).rejects.toBeInstanceOf(ValidationError);
  });

  it('prunes ids older than a date or an age, after which a redelivery applies again', async () => {
    const inbox = createInbox({ schema, table: 'pruned' });
    await inbox.migrate(admin);
    for (const id of ['old-1', 'old-2', 'old-3', 'new-1']) await inbox.receive(admin, id, async () => {});
    await admin.query(`UPDATE ${quoted}.pruned SET processed_at = now() - interval '2 days' WHERE message_id LIKE 'old-%'`);

    expect(await inbox.prune(admin, { olderThan: 3 * 24 * 3600_000 })).toBe(0);
    expect(await inbox.prune(kysely, { olderThan: 24 * 3600_000, batchSize: 2 })).toBe(3);
    expect(await inbox.prune(admin, { olderThan: new Date(Date.now() - 3600_000) })).toBe(0);
    expect(await inbox.receive(admin, 'old-1', async () => {})).toBe('processed');
    expect(await inbox.receive(admin, 'new-1', async () => {})).toBe('duplicate');
    expect(await inbox.prune(admin, { olderThan: new Date(Date.now() + 60_000) })).toBe(2);
  });

  it('refuses bad names and message ids with ValidationError', async () => {
    expect(() => createInbox({ schema: 'pg_inbox' })).toThrow(ValidationError);
    expect(() => createInbox({ schema, table: 'x'.repeat(51) })).toThrow(ValidationError);
    const inbox = createInbox({ schema, table: 'named' });
    await expect(inbox.receive(admin, '', async () => {})).rejects.toBeInstanceOf(ValidationError);
    await expect(inbox.prune(admin, { olderThan: -1 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('quotes its names', async () => {
    const inbox = createInbox({ schema: `${schema}`, table: 'odd "name"' });
    await inbox.migrate(admin);
    expect(await inbox.receive(admin, 'q-1', async () => {})).toBe('processed');
    expect(await inbox.receive(admin, 'q-1', async () => {})).toBe('duplicate');
  });
});
