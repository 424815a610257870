/**
 * A process that uses a store the way a service does and then lets go of it, for
 * close-exit.int.test.ts: it must then exit on its own, with nothing left to keep it up.
 *
 * ```sh
 * BACKEND=postgres|pglite ORDER=close-first|stop-first DATABASE_URL=… ANNALS_SCHEMA=… node --import tsx test/event-store/support/close-then-exit.ts
 * ```
 *
 * It opens a store (Postgres on ANNALS_SCHEMA, or an in-memory PGlite), subscribes to
 * appends, runs a projection runner until it has applied an append, then closes the store
 * and stops the runner in ORDER, prints `released` and returns: the process should exit
 * at once. It does not call process.exit, which would hide whatever keeps it alive.
 */
import { createEventStore, runProjections } from 'annals';
import { likeCountsProjection } from '../../projections/support/like-counts.js';

const backend = process.env.BACKEND ?? 'postgres';
const order = process.env.ORDER ?? 'close-first';
const store =
  backend === 'pglite'
    ? createEventStore({ pglite: 'memory://' })
    : createEventStore({ connectionString: process.env.DATABASE_URL! }, { schema: process.env.ANNALS_SCHEMA! });
await store.migrate();
await store.subscribeToAppends(() => {});
let applied!: () => void;
const hasApplied = new Promise<void>((resolve) => (applied = resolve));
const runner = runProjections(store, [likeCountsProjection({ name: `exit-${order}` })], {
  pollIntervalMs: 50,
  onBatch: (batch) => {
    if (batch.events > 0) applied();
  },
});
await runner.ready;
await store.appendToStream('post-1', [{ type: 'LikeCreated', data: { postId: '1', userId: 'ada' }, schemaVersion: 2 }]);
await hasApplied;
if (order === 'close-first') {
  await store.close();
  await runner.stop();
} else {
  await runner.stop();
  await store.close();
}
console.log('released');
