import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import {
  catchUpProjections,
  defineProjection,
  ProjectionSchemaError,
  readSchemaOf,
  runProjections,
  setupProjection,
  startRebuild,
  withInlineProjections,
  type EventStore,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';

// A projection's schema() is user code run inside Annals' own transactions: when it fails,
// every caller (setup, a worker's start, a rebuild) must say whose code failed (issue 13).

const store: EventStore = await createTestStore('projection_schema_failure');

const events = { Counted: z.object({ key: z.string() }) };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = (db: Kysely<any>) => Promise<void>;

const createTallies: Schema = async (db) => {
  await db.schema.createTable('tallies').addColumn('key', 'text', (c) => c.primaryKey()).execute();
};

const tallyAt = (name: string, version: number, schema: Schema) =>
  defineProjection({
    name,
    version,
    events,
    schema,
    apply: async (event, { db }) => {
      await db.insertInto('tallies').values({ key: event.data.key }).onConflict((oc) => oc.doNothing()).execute();
    },
  });

const generationsOf = (name: string) =>
  store.withTransaction((tx) =>
    tx.query<{ generation: number; version: number; status: string }>(
      `SELECT generation, version, status FROM "${tx.schema}".projection_generations WHERE projection = $1 ORDER BY generation`,
      [name],
    ),
  );

/** The generation schemas left in the database for the projection `name` of this store. */
const generationSchemasOf = (name: string) =>
  store.withTransaction(async (tx) =>
    (await tx.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)`, [`${tx.schema}:${name}#`])).map(
      (row) => row.name,
    ),
  );

const failure = (work: Promise<unknown>): Promise<unknown> =>
  work.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );

describe("a projection whose schema() fails", () => {
  it('fails setup with a ProjectionSchemaError naming the projection and version, the thrown error as cause, nothing kept', async () => {
    // Given a schema() that throws
    const thrown = new Error('no tables today');
    const projection = tallyAt('thrower', 3, async () => {
      throw thrown;
    });

    // When it is set up
    const error = await failure(setupProjection(store, projection));

    // Then the error says whose code failed, and the generation was not created
    expect(error).toBeInstanceOf(ProjectionSchemaError);
    expect(error).toMatchObject({
      code: 'ANNALS_PROJECTION_SCHEMA',
      projection: 'thrower',
      version: 3,
      generation: 1,
      message: "projection 'thrower' v3: schema() failed: no tables today",
    });
    expect((error as Error).cause).toBe(thrown);
    expect(await generationsOf('thrower')).toEqual([]);
    expect(await generationSchemasOf('thrower')).toEqual([]);
  });

  it('gives the pg error of a failing statement as cause, with its SQLSTATE', async () => {
    const projection = tallyAt('bad-sql', 1, async (db) => {
      await sql`CREATE TABLE tallies (key no_such_type)`.execute(db);
    });

    const error = await failure(setupProjection(store, projection));

    expect(error).toBeInstanceOf(ProjectionSchemaError);
    expect((error as Error).message).toBe(`projection 'bad-sql' v1: schema() failed: type "no_such_type" does not exist`);
    expect((error as Error).cause).toMatchObject({ code: '42704' });
    expect(await generationsOf('bad-sql')).toEqual([]);
  });

  it("stops a worker's start: ready rejects with it rather than retrying the same code for ever", async () => {
    const projection = tallyAt('worker-start', 2, async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'createTable')");
    });

    const runner = runProjections(store, [projection]);
    try {
      const error = await failure(runner.ready);
      expect(error).toBeInstanceOf(ProjectionSchemaError);
      expect((error as Error).message).toBe("projection 'worker-start' v2: schema() failed: Cannot read properties of undefined (reading 'createTable')");
    } finally {
      await runner.stop();
    }
  });

  it('still lets a worker retry a passing database fault raised in schema() (a deadlock)', async () => {
    // Given a schema() that is chosen as a deadlock's victim once
    let attempts = 0;
    const projection = tallyAt('deadlocked-once', 1, async (db) => {
      attempts++;
      if (attempts === 1) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      await createTallies(db);
    });

    // When a worker starts, then it tries again and starts
    const runner = runProjections(store, [projection], { retries: { minDelayMs: 10, maxDelayMs: 50 } });
    try {
      await runner.ready;
    } finally {
      await runner.stop();
    }
    expect(attempts).toBe(2);
    expect(await generationsOf('deadlocked-once')).toEqual([{ generation: 1, version: 1, status: 'live' }]);
  });

  it('fails a rebuild to a new version, by startRebuild or by a worker of that version, and the live generation keeps serving', async () => {
    // Given version 1, live with a row
    const v1 = tallyAt('rebuilt', 1, createTallies);
    await store.appendToStream('tally-1', [{ type: 'Counted', data: { key: 'a' } }]);
    await catchUpProjections(store, [v1]);
    const v2 = tallyAt('rebuilt', 2, async (db) => {
      await sql`CREATE TABLE tallies (key text PRIMARY KEY, n integr NOT NULL)`.execute(db);
    });

    // When version 2 is rebuilt, then the error names version 2 and generation 2
    const rebuild = await failure(startRebuild(store, v2));
    expect(rebuild).toBeInstanceOf(ProjectionSchemaError);
    expect(rebuild).toMatchObject({ projection: 'rebuilt', version: 2, generation: 2 });
    expect((rebuild as Error).message).toBe(`projection 'rebuilt' v2: schema() failed: type "integr" does not exist`);

    // And a worker of version 2 (which rebuilds on its own at start) fails the same way
    const runner = runProjections(store, [v2]);
    try {
      const start = await failure(runner.ready);
      expect(start).toBeInstanceOf(ProjectionSchemaError);
      expect(start).toMatchObject({ projection: 'rebuilt', version: 2 });
    } finally {
      await runner.stop();
    }

    // And version 1 is still the live generation, its read model intact
    expect(await generationsOf('rebuilt')).toEqual([{ generation: 1, version: 1, status: 'live' }]);
    const rows = await store.withTransaction((tx) => tx.query<{ key: string }>(`SELECT key FROM "${readSchemaOf(store.schema, v1)}".tallies`));
    expect(rows).toEqual([{ key: 'a' }]);
  });

  it('fails an inline projection’s appends with it, and appends nothing', async () => {
    const projection = tallyAt('inline-thrower', 1, async () => {
      throw new Error('no tables today');
    });
    const inline = withInlineProjections(store, [projection]);

    const error = await failure(inline.appendToStream('inline-tally-1', [{ type: 'Counted', data: { key: 'a' } }]));

    expect(error).toBeInstanceOf(ProjectionSchemaError);
    expect((error as Error).message).toBe("projection 'inline-thrower' v1: schema() failed: no tables today");
    expect(await store.readStream('inline-tally-1')).toEqual([]);
  });
});
