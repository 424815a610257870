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
export const fillConcurrency = 4;
/** Streams the append windows append to, as `npm run bench`'s append figures do. */
export const hotStreams = 1_000;
/** Pages between two garbage collections while reading the whole log (LogRead.retainedHeapBytes). */
const pagesPerCollection = 100;

export interface AppendFigure {
  eventsPerSecond: number;
  /** Milliseconds per append call, each call of the window. */
  latencies: number[];
  /** WAL written per appended event over the whole window (warm-up included). */
  walBytesPerEvent: number;
}

/** A read of the whole log from its start, its heap measured against what was in use before it. */
export interface LogRead {
  eventsPerSecond: number;
  /** The most heap in use at the end of a page, garbage not yet collected included. */
  peakHeapBytes: number;
  /** The most heap still in use right after a collection (every 100 pages): what the read holds on to. */
  retainedHeapBytes: number;
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

  /** Opens (and migrates) the store of `kind` in `schema`; a store kept by an earlier run is taken up where it was left. */
  static async open(kind: IdKind, schema: string): Promise<GrowthStore> {
    const store = createEventStore({ connectionString: databaseUrl, maxConnections: 16 }, { schema });
    await store.migrate();
    const admin = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    admin.on('error', () => {});
    const growth = new GrowthStore(kind, schema, store, admin);
    const streams = `${quoteIdent(schema)}.streams`;
    // A run stopped while filling may leave a gap of a few streams below the last: go on past it.
    growth.#fillStreams = Number(await growth.#scalar(`SELECT coalesce(max(substr(stream_id, 6)::bigint) + 1, 0) AS value FROM ${streams} WHERE starts_with(stream_id, 'fill-')`));
    const { rows } = await admin.query<{ stream_id: string; version: string }>(`SELECT stream_id, version FROM ${streams} WHERE starts_with(stream_id, 'hot-')`);
    for (const row of rows) growth.#versions.set(row.stream_id, Number(row.version));
    return growth;
  }

  /** Events the fill has written; the append windows' events come on top (eventsInLog). */
  get filled(): number {
    return this.#fillStreams * fillStreamLength;
  }

  /** Fills up to `target` events in appends of one new stream each; returns the milliseconds it took. */
  async fillTo(target: number): Promise<number> {
    const started = now();
    const worker = async () => {
      while (this.filled < target) {
        const stream = `fill-${this.#fillStreams++}`;
        await this.store.appendToStream(stream, this.#events(stream, fillStreamLength), { expectedVersion: 0 });
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
    // The insert position, not the write position, which lags it: WAL of the whole cluster,
    // so the run settles the stores first (settle) and reports other sessions.
    const walBefore = await this.#scalar('SELECT pg_current_wal_insert_lsn() AS value');
    const { eventsPerSecond } = await runWorkers({
      concurrency,
      warmupMs,
      measureMs: settings.measureMs,
      latencies,
      work: async (worker) => {
        const turn = turns[worker]!;
        turns[worker] = turn + 1;
        const streamId = `hot-${worker + concurrency * (turn % Math.ceil(hotStreams / concurrency))}`;
        const version = this.#versions.get(streamId) ?? 0;
        await this.store.appendToStream(streamId, this.#events(streamId, eventsPerAppend), { expectedVersion: version });
        this.#versions.set(streamId, version + eventsPerAppend);
        appended += eventsPerAppend;
        return eventsPerAppend;
      },
    });
    const walBytes = Number(await this.#scalar('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1) AS value', [walBefore]));
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

  /**
   * Pages of 1,000 read with readAll by one caller, each from just before the first event
   * of a random filled stream: positions are sparse (a transaction id each), so a random
   * position would start most pages at the few events after the widest gaps.
   */
  async readPagesWindow(warmupMs: number): Promise<number> {
    const names = Array.from({ length: 500 }, () => `fill-${randomInt(this.#fillStreams)}`);
    const { rows } = await this.admin.query<{ after: string }>(
      `SELECT global_position - 1 AS after FROM ${quoteIdent(this.schema)}.events WHERE stream_id = ANY($1::text[]) AND stream_version = 1`,
      [names],
    );
    const starts = rows.map((row) => BigInt(row.after));
    const { eventsPerSecond } = await runWorkers({
      concurrency: 1,
      warmupMs,
      measureMs: settings.measureMs,
      work: async () => (await this.store.readAll({ after: starts[randomInt(starts.length)]!, limit: 1_000 })).length,
    });
    return eventsPerSecond;
  }

  /** iterateAll over the whole log in pages of 1,000, as a consumer catching up from the start reads it. */
  iterateLog(): Promise<LogRead> {
    return measureLogRead(async (onPage) => {
      let read = 0;
      for await (const event of this.store.iterateAll({ batchSize: 1_000 })) {
        // Touch each event, as a consumer would.
        read += event.type.length > 0 ? 1 : 0;
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

  /** Events in the log: the fill's and the append windows'. */
  async eventsInLog(): Promise<number> {
    return Number(await this.#scalar(`SELECT coalesce(sum(version), 0) AS value FROM ${quoteIdent(this.schema)}.streams`));
  }

  /**
   * Vacuums and analyzes the events table and writes a checkpoint, so that no autovacuum
   * of the fill's rows and no checkpoint owed to it lands in one store's windows only.
   */
  async settle(): Promise<void> {
    await this.admin.query(`VACUUM (ANALYZE) ${quoteIdent(this.schema)}.events`);
    await this.admin.query('CHECKPOINT');
  }

  /** The server settings that decide how much an append writes and what stays cached. */
  async serverSettings(): Promise<string> {
    const names = ['shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'full_page_writes', 'synchronous_commit'];
    const values = await Promise.all(names.map((name) => this.#scalar('SELECT current_setting($1) AS value', [name])));
    return names.map((name, index) => `${name} ${String(values[index])}`).join(', ');
  }

  /** Bytes of the events table with its indexes, and of the unique index on `event_id` alone. */
  async sizes(): Promise<{ events: number; eventIdIndex: number }> {
    const size = (relation: string, total: boolean) =>
      this.#scalar(`SELECT ${total ? 'pg_total_relation_size' : 'pg_relation_size'}($1::regclass) AS value`, [`${quoteIdent(this.schema)}.${relation}`]);
    return { events: Number(await size('events', true)), eventIdIndex: Number(await size('events_event_id_key', false)) };
  }

  close(): Promise<void> {
    return Promise.all([this.store.close(), this.admin.end()]).then(() => {});
  }

  #events(streamId: string, count: number) {
    return Array.from({ length: count }, () => ({ ...likeEvent(streamId), id: this.kind.newId() }));
  }

  /** The first column of the first row of `sql`, run outside the store. */
  async #scalar(sql: string, parameters: unknown[] = []): Promise<unknown> {
    const { rows } = await this.admin.query<{ value: unknown }>(sql, parameters);
    return rows[0]?.value;
  }
}

/**
 * Times `read`, sampling the heap at the end of every page (its fullest moment) and right
 * after a collection every 100 pages, against what was in use after a collection before it.
 * The collections are in the time (a few milliseconds each, under 1% of a read).
 */
async function measureLogRead(read: (onPage: () => void) => Promise<number>): Promise<LogRead> {
  collectGarbage();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  let retained = base;
  let pages = 0;
  const started = now();
  const events = await read(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    if (++pages % pagesPerCollection === 0) {
      collectGarbage();
      retained = Math.max(retained, process.memoryUsage().heapUsed);
    }
  });
  return { eventsPerSecond: (events * 1000) / (now() - started), peakHeapBytes: peak - base, retainedHeapBytes: retained - base };
}
