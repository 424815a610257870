/**
 * Child process of the latency figure (latency.ts): runs the like-counts projection with
 * the default worker settings on the schema given in argv, and reports each committed
 * batch to the parent as { position, at }, where `at` is wall-clock time in ms with
 * sub-millisecond precision (performance.timeOrigin + now(): comparable across processes
 * on one machine). A third argument runs Annals from another checkout (bench/compare).
 */
import { loadAnnals, loadLikeCounts } from '../annals-api.js';

const [databaseUrl, schema, annalsRoot] = process.argv.slice(2) as [string, string, string | undefined];
const [{ createEventStore, runProjections }, { likeCounts }] = await Promise.all([loadAnnals(annalsRoot), loadLikeCounts(annalsRoot)]);
const store = createEventStore({ connectionString: databaseUrl, maxConnections: 4 }, { schema });
const runner = runProjections(store, [likeCounts], {
  onBatch: (batch) => process.send?.({ position: batch.position.toString(), at: performance.timeOrigin + performance.now() }),
});
await runner.ready;
process.send?.({ ready: true });
process.on('message', async (message: { stop?: boolean }) => {
  if (!message.stop) return;
  await runner.stop();
  await store.close();
  process.disconnect?.();
});
