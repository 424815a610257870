/**
 * A process that opens the PGlite store in ANNALS_DATA_DIR (pglite-lock.int.test.ts):
 * it migrates, appends one event to `lock-1`, prints `{"ready":true,"pid":…}` and keeps
 * the store open. On SIGTERM it closes the store and exits; with HOLDER_EXIT_WITHOUT_CLOSE
 * set it exits without closing (the lock then goes with the process's exit hook). If the
 * store cannot be opened it prints `{"error":{…}}` with the error's fields and exits 0.
 */
import { createEventStore, StoreLockedError } from '../../../src/index.js';

const store = createEventStore({ pglite: process.env.ANNALS_DATA_DIR! }, { schema: 'annals' });
try {
  await store.migrate();
  await store.appendToStream('lock-1', [{ type: 'Held', data: { pid: process.pid } }], { expectedVersion: 'any' });
} catch (error) {
  const { name, message } = error as Error;
  const fields = error instanceof StoreLockedError ? { code: error.code, directory: error.directory, holder: error.holder } : {};
  console.log(JSON.stringify({ error: { name, message, ...fields } }));
  await store.close();
  process.exit(0);
}
process.on('SIGTERM', () => {
  if (process.env.HOLDER_EXIT_WITHOUT_CLOSE) process.exit(0);
  void store.close().then(() => process.exit(0));
});
// Kept alive until a signal.
setInterval(() => {}, 60_000);
console.log(JSON.stringify({ ready: true, pid: process.pid }));
