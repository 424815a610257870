import { performance } from 'node:perf_hooks';
import type { EventStore } from '../../src/index.js';
import { loadAnnals } from '../annals-api.js';
import { readDone, type Contestant, type LikeEvent, type ReadOptions, type StreamAppend } from './contestant.js';

/**
 * Annals through its public API only: appendToStream, withTransaction and iterateAll.
 *
 * The store comes from the working tree's src/, or from `annalsRoot`: another checkout
 * of Annals (bench/compare/source-tree.ts extracts one per commit), so that two versions
 * of the store can be measured side by side, each in its own process. Only the API used
 * here has to stay the same across versions; the types are the working tree's.
 */
export class AnnalsContestant implements Contestant {
  readonly store: EventStore;

  private constructor(store: EventStore) {
    this.store = store;
  }

  /** Opens a store on `schema`, creating its tables with the store's own migration. */
  static async open(connectionString: string, schema: string, options: { maxConnections: number; annalsRoot?: string }): Promise<AnnalsContestant> {
    // Imported on demand, so that a process measuring another checkout runs that
    // checkout's store only (tsx compiles its TypeScript).
    const { createEventStore } = await loadAnnals(options.annalsRoot);
    const store = createEventStore({ connectionString, maxConnections: options.maxConnections }, { schema });
    await store.migrate();
    return new AnnalsContestant(store);
  }

  async append(streamId: string, events: readonly LikeEvent[], version: number): Promise<void> {
    // A number is checked exactly; 0 means "the stream does not exist yet".
    await this.store.appendToStream(streamId, events, { expectedVersion: version });
  }

  async appendInTransaction(appends: readonly StreamAppend[]): Promise<void> {
    await this.store.withTransaction(async (tx) => {
      for (const { streamId, events, version } of appends) await tx.appendToStream(streamId, events, { expectedVersion: version });
    });
  }

  async readAll(options: ReadOptions): Promise<number> {
    let read = 0;
    let pageEnd = options.batchSize;
    for await (const event of this.store.iterateAll({ batchSize: options.batchSize })) {
      // Touch every event, as any consumer would.
      if (event.globalPosition > 0n) read += 1;
      if (read === pageEnd) {
        // iterateAll hides its pages; every batchSize events is where one ends.
        options.onPage?.();
        pageEnd += options.batchSize;
        if (readDone(read, options, performance.now())) break;
      }
    }
    return read;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
