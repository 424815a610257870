/**
 * A table of the events a consumer's handler handled, one row per event, for the
 * integration tests of the engine (and the takeover's child process: no vitest here).
 * Its primary key on `event_id` refuses a second row for an event, so in mode
 * `transaction` a duplicate delivery fails the batch instead of passing unseen; `seq`
 * numbers the rows in the order they were inserted.
 */
import type { EventStore, EventStoreTransaction, RecordedEvent } from 'annals';

export interface HandledRow {
  seq: number;
  eventId: string;
  streamId: string;
  version: number;
  globalPosition: bigint;
  partition: number;
  worker: string;
}

const qualified = (schema: string, table: string) => `"${schema.replaceAll('"', '""')}"."${table.replaceAll('"', '""')}"`;

/** Creates `table` in the store's schema (dropped with it after the file). */
export async function createHandledTable(store: EventStore, table: string): Promise<void> {
  await store.withTransaction(
    (tx) =>
      tx.query(`CREATE TABLE ${qualified(tx.schema, table)} (
        seq bigserial NOT NULL,
        event_id text PRIMARY KEY,
        stream_id text NOT NULL,
        version integer NOT NULL,
        global_position bigint NOT NULL,
        partition integer NOT NULL,
        worker text NOT NULL
      )`),
    { appends: false },
  );
}

/** Inserts one row per event, in the handler's transaction. */
export async function recordHandled(tx: EventStoreTransaction, table: string, events: readonly RecordedEvent[], at: { partition: number; worker: string }): Promise<void> {
  for (const event of events) {
    await tx.query(`INSERT INTO ${qualified(tx.schema, table)} (event_id, stream_id, version, global_position, partition, worker) VALUES ($1, $2, $3, $4, $5, $6)`, [
      event.id,
      event.streamId,
      event.version,
      event.globalPosition.toString(),
      at.partition,
      at.worker,
    ]);
  }
}

/** Every row, in the order inserted. */
export async function readHandled(store: EventStore, table: string): Promise<HandledRow[]> {
  const rows = await store.withTransaction(
    (tx) =>
      tx.query<{ seq: string; event_id: string; stream_id: string; version: number; global_position: string; partition: number; worker: string }>(
        `SELECT * FROM ${qualified(tx.schema, table)} ORDER BY seq`,
      ),
    { appends: false },
  );
  return rows.map((row) => ({
    seq: Number(row.seq),
    eventId: row.event_id,
    streamId: row.stream_id,
    version: row.version,
    globalPosition: BigInt(row.global_position),
    partition: row.partition,
    worker: row.worker,
  }));
}
