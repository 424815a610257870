import { performance } from 'node:perf_hooks';
import { createEventStore, type EventStore } from '../../src/index.js';
import { readDone, type Contestant, type LikeEvent, type ReadOptions } from './contestant.js';

/** Annals through its public API only: appendToStream and iterateAll. */
export class AnnalsContestant implements Contestant {
  readonly store: EventStore;

  private constructor(store: EventStore) {
    this.store = store;
  }

  /** Opens a store on `schema`, creating its tables with the store's own migration. */
  static async open(connectionString: string, schema: string, maxConnections: number): Promise<AnnalsContestant> {
    const store = createEventStore({ connectionString, maxConnections }, { schema });
    await store.migrate();
    return new AnnalsContestant(store);
  }

  async append(streamId: string, events: readonly LikeEvent[], version: number): Promise<void> {
    // A number is checked exactly; 0 means "the stream does not exist yet".
    await this.store.appendToStream(streamId, events, { expectedVersion: version });
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
