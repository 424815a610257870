import {
  catchUpProjections,
  projectionStatus,
  readSchemaOf,
  type AnyProjection,
  type CatchUpOptions,
  type EventStore,
  type ProjectionContext,
  type RecordedEvent,
} from 'annals';
import { eventually } from '../../../setup/database.js';

/**
 * The seed of this run's random history: SEED=… to replay a failure, else a new one. Put
 * it in the test's name so a failing run says how to reproduce it.
 */
export const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seeded, the same sequence for the same seed. */
export function seededRandom(from: number) {
  let state = from >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    /** An integer in [0, n). */
    below: (n: number) => Math.floor(next() * n),
    /** Skewed towards 0, as popularity is: a few items get most of the traffic. */
    skewedBelow: (n: number) => Math.floor(next() ** 2 * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}

/** Runs `work(0) … work(n-1)` on `workers` concurrent loops. */
export async function inParallel(n: number, workers: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loop = async () => {
    for (let index = next++; index < n; index = next++) await work(index);
  };
  await Promise.all(Array.from({ length: workers }, loop));
}

/**
 * The newest position in the store's own table. Unlike `headPosition`, not held back by
 * transactions still open elsewhere on the server (other test files).
 */
async function lastWritten(store: EventStore): Promise<bigint> {
  const [row] = await store.withTransaction((tx) => tx.query<{ last: string | null }>(`SELECT max(global_position)::text AS last FROM "${store.schema}".events`));
  return BigInt(row?.last ?? 0);
}

/**
 * Waits until readers can see every event this file wrote: catchUpProjections stops at
 * the head it sees when called, and readAll returns what is below it, so without this
 * both could stop short while another file holds an old transaction open.
 */
export async function untilAllVisible(store: EventStore): Promise<void> {
  const last = await lastWritten(store);
  await eventually(async () => {
    if ((await store.headPosition()) < last) throw new Error(`head not at ${last} yet`);
  }, 30_000);
}

/** catchUpProjections over everything written so far. */
export async function catchUp(store: EventStore, projections: readonly AnyProjection[], options: CatchUpOptions = {}): Promise<void> {
  await untilAllVisible(store);
  await catchUpProjections(store, projections, options);
}

/** Every event of the store's log (all of them visible), in log order. */
export async function everyEvent(store: EventStore, filter: { types?: readonly string[]; categories?: readonly string[] } = {}): Promise<RecordedEvent[]> {
  await untilAllVisible(store);
  const events: RecordedEvent[] = [];
  for await (const event of store.iterateAll(filter)) events.push(event);
  return events;
}

/** The rows of one of `projection`'s tables, read as readers do: through its views. */
export async function readModel<Row>(store: EventStore, projection: AnyProjection, table: string, orderBy: string): Promise<Row[]> {
  const schema = readSchemaOf(store.schema, projection);
  return store.withTransaction((tx) => tx.query<Row>(`SELECT * FROM "${schema}"."${table}" ORDER BY ${orderBy}`));
}

/** The generations of `projection` with their status, as projectionStatus reports them. */
export async function generationsOf(store: EventStore, projection: AnyProjection): Promise<[number, string][]> {
  const { partitions } = await projectionStatus(store, [projection]);
  return [...new Map(partitions.map((p) => [p.generation, p.status])).entries()];
}

/**
 * Delivers `events` to `projection`'s handlers once more, in one transaction on its live
 * generation (tables in `<readSchema>#g<generation>`), as a redelivery would: a
 * checkpoint moved back, a dead letter retried after the event was applied after all.
 */
export async function deliverAgain(store: EventStore, projection: AnyProjection, events: readonly RecordedEvent[]): Promise<void> {
  const live = (await generationsOf(store, projection)).find(([, status]) => status === 'live');
  if (!live) throw new Error(`${projection.name} has no live generation`);
  const [generation] = live;
  const schema = `${readSchemaOf(store.schema, projection)}#g${generation}`;
  await store.withTransaction(async (tx) => {
    await tx.query(`SET LOCAL search_path TO "${schema}"`);
    const context: ProjectionContext = {
      db: tx.db.withSchema(schema),
      query: (text, parameters) => tx.query(text, parameters),
      replaying: false,
      generation,
      partition: 0,
    };
    const decoded = events.filter((event) => projection.eventTypes.includes(event.type)).map((event) => projection.decode(event));
    const { apply, applyBatch } = projection.definition;
    if (applyBatch) await applyBatch(decoded, context);
    else for (const event of decoded) await apply!(event, context);
  });
}
