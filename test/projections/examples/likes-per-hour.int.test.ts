import { defineProjection, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { likesPerHour } from '../../../projections/likes-per-hour/likes-per-hour.projection.js';
import { createTestStore } from '../../setup/database.js';
import { catchUp, generationsOf, readModel, seed, seededRandom, untilAllVisible } from './support/examples.js';
import { likeEventsOf, likesSimulation } from './support/likes-history.js';

const store: EventStore = await createTestStore('ex_likes_per_hour');
const likes = likesSimulation(store, seededRandom(seed), { posts: 30, users: 40 });

/** Where the test's clock stands, and the last event given a time by it. */
let clock = Date.parse('2024-03-30T21:40:00Z');
let spreadUpTo = '0';

/**
 * The store stamps `recorded_at` with the time of the append, so a test's whole history
 * would fall in one or two hours. Spreads the events appended since the last call over
 * the following hours and days (197 s apart, in log order), as a real log would be.
 */
async function spreadOverHours(): Promise<void> {
  await untilAllVisible(store);
  const [spread] = await store.withTransaction((tx) =>
    tx.query<{ last: string | null; n: number }>(
      `WITH numbered AS (
         SELECT global_position, row_number() OVER (ORDER BY global_position) AS n
           FROM "${store.schema}".events WHERE global_position > $1),
       updated AS (
         UPDATE "${store.schema}".events e SET recorded_at = to_timestamp($2::double precision / 1000) + numbered.n * interval '197 seconds'
           FROM numbered WHERE e.global_position = numbered.global_position
         RETURNING e.global_position)
       SELECT max(global_position)::text AS last, count(*)::int AS n FROM updated`,
      [spreadUpTo, clock],
    ),
  );
  spreadUpTo = spread?.last ?? spreadUpTo;
  clock += (spread?.n ?? 0) * 197_000;
}

interface Row {
  hour: Date;
  source: string;
  likes: number;
  unlikes: number;
}

/**
 * Folded from the log: per UTC hour (from the ISO timestamp, not the projection's
 * arithmetic) and source; an unlike counts under the source of the like it takes back.
 */
async function expectedRows(): Promise<Row[]> {
  const sourceOfLike = new Map<string, string>();
  const buckets = new Map<string, Row>();
  for (const { type, data, recordedAt } of await likeEventsOf(store)) {
    const pair = `${data.postId}|${data.userId}`;
    const source = type === 'LikeCreated' ? data.source : sourceOfLike.get(pair)!;
    if (type === 'LikeCreated') sourceOfLike.set(pair, data.source);
    else sourceOfLike.delete(pair);
    const hour = new Date(`${recordedAt.toISOString().slice(0, 13)}:00:00.000Z`);
    const bucket = buckets.get(`${hour.toISOString()}|${source}`) ?? { hour, source, likes: 0, unlikes: 0 };
    if (type === 'LikeCreated') bucket.likes++;
    else bucket.unlikes++;
    buckets.set(`${hour.toISOString()}|${source}`, bucket);
  }
  return [...buckets.values()].sort(byHourAndSource);
}

const byHourAndSource = (a: Row, b: Row) => a.hour.getTime() - b.hour.getTime() || (a.source < b.source ? -1 : 1);
const readRows = async () => (await readModel<Row>(store, likesPerHour, 'likes_per_hour', 'hour, source')).sort(byHourAndSource);

describe(`the likes-per-hour projection (SEED=${seed})`, () => {
  it('counts likes and unlikes per hour and source, as the log says', async () => {
    await likes.importFirstRelease(10);
    await likes.run(300);
    await spreadOverHours();
    await catchUp(store, [likesPerHour], { batchSize: 50 });
    expect(await readRows()).toEqual(await expectedRows());

    await likes.run(150);
    await spreadOverHours();
    await catchUp(store, [likesPerHour]);
    const expected = await expectedRows();
    expect(await readRows()).toEqual(expected);
    // The history spans hours and days, every source, and unlikes: a fold worth comparing.
    expect(new Set(expected.map((row) => row.hour.getTime())).size).toBeGreaterThan(12);
    expect(new Set(expected.map((row) => row.source))).toEqual(new Set(['web', 'mobile', 'api']));
    expect(expected.some((row) => row.unlikes > 0)).toBe(true);
  });

  it('rebuilds into the same counts', async () => {
    const v2 = defineProjection({ ...likesPerHour.definition, version: likesPerHour.version + 1 });
    await catchUp(store, [v2], { replayBatchSize: 64 });
    expect(await generationsOf(store, v2)).toEqual([[2, 'live']]);
    expect(await readRows()).toEqual(await expectedRows());
  });
});
