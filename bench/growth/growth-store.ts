/**
 * One store of the growth benchmark (run-growth.ts): filled to a number of events, then
 * measured. Each store gives its events ids of one kind, random (UUIDv4) or time-ordered
 * (UUIDv7), passed as the events' `id`; an append with ids of its own takes the same
 * statement as one without (src/event-store/postgres/appends.ts), so the two stores
 * differ only in where new ids land in the unique index on `event_id`.
 */
import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { createEventStore, type EventStore } from '../../src/index.js';
import { newEventId } from '../../src/event-store/event-ids.js';
import { likeEvent } from '../contestants/contestant.js';
import { collectGarbage, databaseUrl, now, quoteIdent, runWorkers, settings } from '../harness.js';

export interface IdKind {
  key: 'v4' | 'v7';
  label: string;
  newId: () => string;
}

export const idKinds: readonly IdKind[] = [
  { key: 'v4', label: 'random ids (UUIDv4)', newId: randomUUID },
  { key: 'v7', label: 'time-ordered ids (UUIDv7)', newId: newEventId },
];

/** Events of each stream the fill writes: one append of this many events makes a stream. */
export const fillStreamLength = 100;
/** Callers filling at once. */
const fillConcurrency = 4;
/** Streams the append windows append to, as `npm run bench`'s append figures do. */
const hotStreams = 1_000;

export interface AppendFigure {
  eventsPerSecond: number;
  /** Milliseconds per append call, each call of the window. */
  latencies: number[];
  /** WAL written per appended event over the whole window (warm-up included). */
  walBytesPerEvent: number;
}

/** A read of the whole log from its start: its rate, and the most heap it took above what was in use before it. */
export interface LogRead {
  eventsPerSecond: number;
  peakHeapBytes: number;
}

export class GrowthStore {
  readonly #versions = new Map<string, number>();
  #fillStreams = 0;

  private constructor(
    readonly kind: IdKind,
    readonly schema: string,
    readonly store: EventStore,
    readonly admin: pg.Pool,
  ) {}

  /** Opens (and migrates) the store of `kind` in `schema`; a kept store is taken up where it was left. */
  static async open(kind: IdKind, schema: string): Promise<GrowthStore> {
    const store = createEventStore({ connectionString: databaseUrl, maxConnections: 16 }, { schema });
    await store.migrate();
    const admin = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    admin.on('error', () => {});
    const growth = new GrowthStore(kind, schema, store, admin);
    const streams = `${quoteIdent(schema)}.streams`;
    // A run stopped while filling may leave a gap of a few streams below the last: go on past it.
    growth.#fillStreams = Number(await growth.scalar(`SELECT coalesce(max(substr(stream_id, 6)::bigint) + 1, 0) AS value FROM ${streams} WHERE starts_with(stream_id, 'fill-')`));
    const { rows } = await admin.query<{ stream_id: string; version: string }>(`SELECT stream_id, version FROM ${streams} WHERE starts_with(stream_id, 'hot-')`);
    for (const row of rows) growth.#versions.set(row.stream_id, Number(row.version));
    return growth;
  }

  /** Events the fill has written (the windows' appends come on top, a few percent at most). */
  get filled(): number {
    return this.#fillStreams * fillStreamLength;
  }

  /** Fills up to `target` events in appends of one new stream each; returns the milliseconds it took. */
  async fillTo(target: number): Promise<number> {
    const started = now();
    const worker = async () => {
      while (this.filled < target) {
        const stream = `fill-${this.#fillStreams++}`;
        await this.store.appendToStream(stream, this.events(stream, fillStreamLength), { expectedVersion: 0 });
      }
    };
    await Promise.all(Array.from({ length: fillConcurrency }, worker));
    return now() - started;
  }

  /** One window of appends to the hot streams, worker w owning streams w, w + c, ... */
  async appendWindow(concurrency: number, eventsPerAppend: number, warmupMs: number): Promise<AppendFigure> {
    const latencies: number[] = [];
    const turns = new Array<number>(concurrency).fill(0);
    let appended = 0;
    const walBefore = await this.scalar('SELECT pg_current_wal_lsn() AS value');
    const measureStart = now() + warmupMs;
    const measureEnd = measureStart + settings.measureMs;
    const { eventsPerSecond } = await runWorkers({
      concurrency,
      warmupMs,
      measureMs: settings.measureMs,
      work: async (worker) => {
        const turn = turns[worker]!;
        turns[worker] = turn + 1;
        const streamId = `hot-${worker + concurrency * (turn % Math.ceil(hotStreams / concurrency))}`;
        const version = this.#versions.get(streamId) ?? 0;
        const started = now();
        await this.store.appendToStream(streamId, this.events(streamId, eventsPerAppend), { expectedVersion: version });
        const done = now();
        if (done >= measureStart && done <= measureEnd) latencies.push(done - started);
        this.#versions.set(streamId, version + eventsPerAppend);
        appended += eventsPerAppend;
        return eventsPerAppend;
      },
    });
    const walBytes = Number(await this.scalar('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS value', [walBefore]));
    return { eventsPerSecond, latencies, walBytesPerEvent: walBytes / appended };
  }

  /** readStream of random filled streams (100 events each) by `concurrency` callers; returns events/s. */
  async readStreamWindow(concurrency: number, warmupMs: number): Promise<number> {
    const { eventsPerSecond } = await runWorkers({
      concurrency,
      warmupMs,
      measureMs: settings.measureMs,
      work: async () => (await this.store.readStream(`fill-${randomInt(this.#fillStreams)}`)).length,
    });
    return eventsPerSecond;
  }

  /** Pages of 1,000 read with readAll from random places in the log by one caller; returns events/s. */
  async readPagesWindow(warmupMs: number): Promise<number> {
    const events = `${quoteIdent(this.schema)}.events`;
    const low = BigInt(String(await this.scalar(`SELECT min(global_position) AS value FROM ${events}`)));
    const span = Number(BigInt(String(await this.scalar(`SELECT max(global_position) AS value FROM ${events}`))) - low);
    const { eventsPerSecond } = await runWorkers({
      concurrency: 1,
      warmupMs,
      measureMs: settings.measureMs,
      work: async () => (await this.store.readAll({ after: low + BigInt(Math.floor(Math.random() * span * 0.99)), limit: 1_000 })).length,
    });
    return eventsPerSecond;
  }

  /** iterateAll over the whole log in pages of 1,000, as a consumer catching up from the start reads it. */
  iterateLog(): Promise<LogRead> {
    return measureLogRead(async (onPage) => {
      let read = 0;
      for await (const event of this.store.iterateAll({ batchSize: 1_000 })) {
        if (event.globalPosition > 0n) read += 1;
        if (read % 1_000 === 0) onPage();
      }
      return read;
    });
  }

  /**
   * The baseline of iterateLog: plain `pg` reading the same table in the same pages of
   * 1,000 by keyset with the minimal query (`npm run bench` compares with Annals' own page
   * query too).
   */
  rawIterateLog(): Promise<LogRead> {
    const text = `SELECT global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at
      FROM ${quoteIdent(this.schema)}.events WHERE global_position > $1 ORDER BY global_position LIMIT 1000`;
    return measureLogRead(async (onPage) => {
      let read = 0;
      let after = '0';
      for (;;) {
        const { rows } = await this.admin.query<{ global_position: string }>({ name: `${this.schema}_page`, text, values: [after] });
        if (rows.length === 0) return read;
        read += rows.length;
        after = rows.at(-1)!.global_position;
        onPage();
      }
    });
  }

  /** Bytes of the events table with its indexes, and of the unique index on `event_id` alone. */
  async sizes(): Promise<{ events: number; eventIdIndex: number }> {
    const size = (relation: string, total: boolean) =>
      this.scalar(`SELECT ${total ? 'pg_total_relation_size' : 'pg_relation_size'}($1::regclass) AS value`, [`${quoteIdent(this.schema)}.${relation}`]);
    return { events: Number(await size('events', true)), eventIdIndex: Number(await size('events_event_id_key', false)) };
  }

  close(): Promise<void> {
    return Promise.all([this.store.close(), this.admin.end()]).then(() => {});
  }

  private events(streamId: string, count: number) {
    return Array.from({ length: count }, () => ({ ...likeEvent(streamId), id: this.kind.newId() }));
  }

  /** The first column of the first row of `sql`, run outside the store. */
  async scalar(sql: string, parameters: unknown[] = []): Promise<unknown> {
    const { rows } = await this.admin.query<{ value: unknown }>(sql, parameters);
    return rows[0]?.value;
  }
}

/** Times `read`, sampling the heap once per page (the fullest moment) against what was in use after a collection before it. */
async function measureLogRead(read: (onPage: () => void) => Promise<number>): Promise<LogRead> {
  collectGarbage();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const started = now();
  const events = await read(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  });
  return { eventsPerSecond: (events * 1000) / (now() - started), peakHeapBytes: peak - base };
}
