/**
 * A consumer that counts `Counted` events per key (test/support/tally.ts' `counted`) into
 * `consumer_tallies` in the store's schema: the consumer the CLI tests configure. The
 * generated annals.config.ts imports this file by path (writeConsumerTestConfig), so no
 * vitest here. `failOn` makes its handler throw on that key, as tallyProjection's does.
 */
import { defineConsumer, type EventStore, type EventStoreTransaction, type RecordedEvent } from 'annals';

const qualified = (schema: string) => `"${schema.replaceAll('"', '""')}".consumer_tallies`;

/** Creates `consumer_tallies` in the store's schema (dropped with it after the file). */
export async function createConsumerTallies(store: EventStore): Promise<void> {
  await store.withTransaction(
    (tx) => tx.query(`CREATE TABLE IF NOT EXISTS ${qualified(tx.schema)} (consumer text NOT NULL, key text NOT NULL, n integer NOT NULL, PRIMARY KEY (consumer, key))`),
    { appends: false },
  );
}

/** The counts `consumer` wrote, by key. */
export async function readConsumerTallies(store: EventStore, consumer: string): Promise<Record<string, number>> {
  const rows = await store.withTransaction(
    (tx) => tx.query<{ key: string; n: number }>(`SELECT key, n FROM ${qualified(tx.schema)} WHERE consumer = $1 ORDER BY key`, [consumer]),
    { appends: false },
  );
  return Object.fromEntries(rows.map((row) => [row.key, row.n]));
}

async function count(tx: EventStoreTransaction, consumer: string, events: readonly RecordedEvent[], failOn: string | undefined): Promise<void> {
  for (const event of events) {
    const { key } = event.data as { key: string };
    if (failOn !== undefined && key === failOn) throw new Error(`refusing key ${key}`);
    await tx.query(
      `INSERT INTO ${qualified(tx.schema)} (consumer, key, n) VALUES ($1, $2, 1) ON CONFLICT (consumer, key) DO UPDATE SET n = consumer_tallies.n + 1`,
      [consumer, key],
    );
  }
}

/** A consumer of the `category` streams' `Counted` events; in mode `at-least-once` it writes in a transaction of its own. */
export function tallyConsumer(options: { name: string; category: string; mode?: 'transaction' | 'at-least-once'; failOn?: string | undefined }) {
  return defineConsumer({
    name: options.name,
    categories: [options.category],
    eventTypes: ['Counted'],
    mode: options.mode ?? 'transaction',
    handle: async (events, { tx, store }) => {
      if (tx) await count(tx, options.name, events, options.failOn);
      else await store.withTransaction((own) => count(own, options.name, events, options.failOn), { appends: false });
    },
  });
}
