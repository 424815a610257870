import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import {
  catchUpProjections,
  defineProjection,
  listDeadLetters,
  ProjectionStoppedError,
  projectionStatus,
  readSchemaOf,
  upcast,
  versionedEvent,
  type AnyProjection,
  type EventStore,
  type RecordedEvent,
} from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestStore } from '../setup/database.js';

// Issue 9: an event the projection's schemas cannot decode was retried with backoff,
// although no retry can succeed, and its error did not say which field failed.
const store: EventStore = await createTestStore('event_schema_error');

const pointScoredV1 = z.object({ user: z.string(), points: z.number().int() });
const pointScored = z.object({ userId: z.string(), points: z.number().int() });

/**
 * Scores per user, from the events of one category (each test its own), recording which
 * events the handler saw and which the worker decoded: how often each was attempted.
 */
function scores(category: string) {
  const handled: string[] = [];
  const decoded: string[] = [];
  const defined = defineProjection({
    name: category,
    version: 1,
    events: { PointScored: versionedEvent(pointScored, [upcast(pointScoredV1, (v1) => ({ userId: v1.user, points: v1.points }))]) },
    categories: [category],
    schema: (db) =>
      db.schema
        .createTable('scores')
        .addColumn('user_id', 'text', (c) => c.primaryKey())
        .addColumn('points', 'integer', (c) => c.notNull())
        .execute(),
    apply: async (event, { db }) => {
      handled.push(event.id);
      if (event.data.userId === 'flaky') throw new Error('the scoreboard is down');
      await db
        .insertInto('scores')
        .values({ user_id: event.data.userId, points: event.data.points })
        .onConflict((oc) => oc.column('user_id').doUpdateSet({ points: sql`scores.points + excluded.points` }))
        .execute();
    },
  });
  const projection: AnyProjection = {
    ...defined,
    decode: (event: RecordedEvent) => {
      decoded.push(event.id);
      return defined.decode(event);
    },
  };
  return { projection, handled, decoded };
}

async function scoreTable(projection: AnyProjection): Promise<Record<string, number>> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ user_id: string; points: number }>(`SELECT user_id, points FROM "${readSchemaOf(store.schema, projection)}".scores ORDER BY user_id`),
  );
  return Object.fromEntries(rows.map((row) => [row.user_id, row.points]));
}

const category = () => `scores${randomBytes(4).toString('hex')}`;
const scoredBy = (userId: string, points = 1) => ({ type: 'PointScored', schemaVersion: 2, data: { userId, points } });

/**
 * Appends good, bad, good; returns the stored ids in that order, and `until` for the
 * catch-up: the head a reader sees may lag behind an append just committed.
 */
async function appendAround(stream: string, bad: { type: string; schemaVersion: number; data: unknown }) {
  const { lastGlobalPosition } = await store.appendToStream(stream, [scoredBy('ada'), bad, scoredBy('bob')]);
  const ids = (await store.readStream(stream)).map((event) => event.id) as [string, string, string];
  return { ids, until: lastGlobalPosition };
}

// A retry would wait 30 s first, past the catch-up's timeout: no retry is allowed to pass.
const noTimeForRetries = { retries: { attempts: 5, minDelayMs: 30_000, maxDelayMs: 30_000 }, timeoutMs: 20_000 };

describe('an event the projection cannot decode', () => {
  // [case, the bad event, what the error names]
  const cases: [string, { type: string; schemaVersion: number; data: unknown }, string][] = [
    ['data that does not fit the current schema', scoredBy(42 as never), 'data.userId: Invalid input: expected string, received number'],
    [
      'old data that does not fit its own version, before upcasting',
      { type: 'PointScored', schemaVersion: 1, data: { user: 'cy', points: 'many' } },
      'data.points: Invalid input: expected number, received string',
    ],
    ['a schema version newer than the projection knows', { ...scoredBy('cy'), schemaVersion: 3 }, 'schema version 3 is newer than this code knows (2)'],
  ];

  it.each(cases)('is dead-lettered on its first failure, naming the problem (%s); the others are processed', async (_case, bad, named) => {
    const name = category();
    const { projection, handled, decoded } = scores(name);
    const { ids, until } = await appendAround(`${name}-1`, bad);
    const [before, culprit, after] = ids;

    await catchUpProjections(store, [projection], { ...noTimeForRetries, until });

    expect(await scoreTable(projection)).toEqual({ ada: 1, bob: 1 });
    // Each good event handled once, the culprit never; decoded at most by the failed
    // batch and once on its own: five attempts would decode it six times.
    expect(handled).toEqual([before, after]);
    expect(decoded.filter((id) => id === culprit).length).toBeLessThanOrEqual(2);
    const [dead, ...others] = await listDeadLetters(store, { projection: name });
    expect(others).toEqual([]);
    expect(dead).toMatchObject({ eventId: culprit, eventType: 'PointScored', attempts: 1, status: 'pending' });
    expect(dead!.error).toMatch(/^EventSchemaError: /);
    expect(dead!.error).toContain(named);
    const [partition] = (await projectionStatus(store, [projection])).partitions;
    expect(partition).toMatchObject({ retries: 0, deadLettered: 1, lag: 0 });
  });

  it('with onFailure stop, stops the partition at once, naming the field', async () => {
    const name = category();
    const { projection, handled } = scores(name);
    const { ids, until } = await appendAround(`${name}-1`, scoredBy(42 as never));
    const [before] = ids;

    const error = await catchUpProjections(store, [projection], { ...noTimeForRetries, onFailure: 'stop', until }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProjectionStoppedError);
    expect((error as ProjectionStoppedError).reason).toContain('data.userId: Invalid input: expected string, received number');
    expect(handled).toEqual([before]);
    expect(await scoreTable(projection)).toEqual({ ada: 1 });
    expect(await listDeadLetters(store, { projection: name })).toEqual([]);
    const [partition] = (await projectionStatus(store, [projection])).partitions;
    expect(partition).toMatchObject({ retries: 0, deadLettered: 0, lag: 2 });
  });

  it('a handler’s own error is still retried before it is dead-lettered', async () => {
    const name = category();
    const { projection, handled } = scores(name);
    const { ids, until } = await appendAround(`${name}-1`, scoredBy('flaky'));
    const [, culprit] = ids;

    await catchUpProjections(store, [projection], { retries: { attempts: 3, minDelayMs: 1, maxDelayMs: 5 }, until });

    expect(await scoreTable(projection)).toEqual({ ada: 1, bob: 1 });
    // The failed batch, then three attempts on its own.
    expect(handled.filter((id) => id === culprit)).toHaveLength(4);
    const [dead] = await listDeadLetters(store, { projection: name });
    expect(dead).toMatchObject({ eventId: culprit, attempts: 3 });
    const [partition] = (await projectionStatus(store, [projection])).partitions;
    expect(partition).toMatchObject({ retries: 2, deadLettered: 1 });
  });
});
