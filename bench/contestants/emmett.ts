import { performance } from 'node:perf_hooks';
// dumbo is Emmett's own Postgres layer (a dependency of its peer @event-driven-io/pongo);
// it is imported to hand Emmett a sized pool and to call Emmett's global-log reader.
import { dumbo } from '@event-driven-io/dumbo';
import { STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, readMessagesBatch, type PostgresEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { readDone, type Contestant, type LikeEvent, type ReadOptions } from './contestant.js';

type EmmettPool = ReturnType<typeof dumbo>;

/** Emmett's event store with the pools behind it, closed together. */
export interface EmmettStore {
  store: PostgresEventStore;
  pool: EmmettPool;
  close(): Promise<void>;
}

/** Opens Emmett's store on `connectionString`'s database and runs Emmett's schema migration. */
export async function openEmmettStore(connectionString: string, maxConnections: number): Promise<EmmettStore> {
  // Emmett's default pool is pg's (10 connections); an own pool gives it as many
  // connections as the other contestants get.
  const pgPool = new pg.Pool({ connectionString, max: maxConnections });
  pgPool.on('error', () => {});
  const pool = dumbo({ connectionString, pool: pgPool });
  const store = getPostgreSQLEventStore(connectionString, { connectionOptions: { dumbo: pool } });
  await store.schema.migrate();
  return {
    store,
    pool,
    async close() {
      await store.close();
      await pool.close();
      await pgPool.end();
    },
  };
}

/**
 * Emmett 0.42 (@event-driven-io/emmett-postgresql) in a database of its own: it creates
 * its own tables (emt_streams, emt_messages, ...) in `public` and its functions.
 *
 * - append: `eventStore.appendToStream(stream, events, { expectedStreamVersion })`, which
 *   runs BEGIN; SELECT emt_append_to_stream(...); COMMIT.
 * - read all: `readMessagesBatch({ after, batchSize })` in a loop, the query Emmett's
 *   consumers and projections poll the global log with. Its batch puller would also sleep
 *   `pullingFrequencyInMs` (50 ms by default) between batches; that sleep is left out.
 */
export class EmmettContestant implements Contestant {
  readonly #emmett: EmmettStore;

  private constructor(emmett: EmmettStore) {
    this.#emmett = emmett;
  }

  /** Opens the store on `connectionString`'s database and runs Emmett's schema migration. */
  static async open(connectionString: string, maxConnections: number): Promise<EmmettContestant> {
    return new EmmettContestant(await openEmmettStore(connectionString, maxConnections));
  }

  async append(streamId: string, events: readonly LikeEvent[], version: number): Promise<void> {
    // Throws ExpectedVersionConflictError when the version does not hold.
    await this.#emmett.store.appendToStream(streamId, [...events], {
      expectedStreamVersion: version === 0 ? STREAM_DOES_NOT_EXIST : BigInt(version),
    });
  }

  async readAll(options: ReadOptions): Promise<number> {
    let read = 0;
    let after = 0n;
    for (;;) {
      const batch = await readMessagesBatch(this.#emmett.pool.execute, { after, batchSize: options.batchSize });
      // Touch every message, as any consumer would.
      for (const message of batch.messages) if (message.metadata.globalPosition > 0n) read += 1;
      options.onPage?.();
      if (!batch.areMessagesLeft || readDone(read, options, performance.now())) return read;
      after = batch.currentGlobalPosition;
    }
  }

  close(): Promise<void> {
    return this.#emmett.close();
  }
}
