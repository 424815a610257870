import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { archiveEvents, IdempotencyConflictError, type EventStore } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';

// An append looks for its event ids in the archive only while the archive holds events,
// and through a function (migration 0019): the append statement's plan does not reference
// the archive, so an append to a store that never archived does not lock or open it.

const store = await createTestStore('archive_probe');

/** The store's relations the transaction of one append holds a lock on. */
async function lockedByAppend(store: EventStore, streamId: string, events: { id?: string; type: string; data: object }[]): Promise<string[]> {
  return store.withTransaction(async (tx) => {
    await tx.appendToStream(streamId, events);
    const rows = await tx.query<{ relname: string }>(
      `SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE l.pid = pg_backend_pid() AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)`,
      [tx.schema],
    );
    return rows.map((row) => row.relname);
  });
}

it('locks nothing of the archive while it is empty, and checks it once it holds events', async () => {
  const before = await lockedByAppend(store, 'cart-a', [{ type: 'Added', data: { n: 1 } }]);
  expect(before).toContain('events');
  expect(before.filter((name) => name.startsWith('events_archive'))).toEqual([]);

  const id = randomUUID();
  const first = await store.appendToStream('cart-b', [{ id, type: 'Added', data: { n: 2 } }]);
  await store.appendToStream('cart-c', [{ type: 'Added', data: { n: 3 } }]);
  await archiveEvents(store, { through: first.lastGlobalPosition });

  const after = await lockedByAppend(store, 'cart-d', [{ type: 'Added', data: { n: 4 } }]);
  expect(after).toContain('events_archive');
  // An id that is only in the archive is still a duplicate: a retry gets the first result,
  // another stream an IdempotencyConflictError.
  expect(await store.appendToStream('cart-b', [{ id, type: 'Added', data: { n: 2 } }])).toEqual({ ...first, written: false });
  await expect(store.appendToStream('cart-e', [{ id, type: 'Added', data: { n: 2 } }])).rejects.toBeInstanceOf(IdempotencyConflictError);
});
