/**
 * Figure: append-to-read-model latency under a steady load. Writers append single like
 * events at a fixed total rate (default 500 events/s, spread over 4 writers so that one
 * slow append does not delay the schedule); a worker in its own process (default
 * settings: LISTEN/NOTIFY, batches of up to 500) keeps the like-counts projection up to
 * date. An event's latency runs from the start of its append call to the commit of the
 * first batch whose checkpoint covers it: the moment a reader can see it.
 * `annalsRoot` runs the writers' store and the worker from another checkout (bench/compare).
 * Run alone: `npx tsx bench/projections/latency.ts`.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { loadAnnals } from '../annals-api.js';
import { freshName, createTarget, databaseUrl, dropTarget, formatMs } from '../harness.js';
import { isMain } from '../is-main.js';
import { percentile } from '../median.js';

export interface LatencyFigure {
  eventsPerSecond: number;
  seconds: number;
  events: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function runLatency(
  options: { rate?: number; seconds?: number; warmupSeconds?: number; annalsRoot?: string } = {},
): Promise<LatencyFigure> {
  const rate = options.rate ?? Number(process.env.LATENCY_RATE ?? 500);
  const seconds = options.seconds ?? Number(process.env.LATENCY_SECONDS ?? 20);
  const warmup = options.warmupSeconds ?? 3;
  const schema = freshName('latency');
  await createTarget({ schema });
  const { createEventStore } = await loadAnnals(options.annalsRoot);
  const store = createEventStore({ connectionString: databaseUrl, maxConnections: 8 }, { schema });
  await store.migrate();
  const workerArgs = [databaseUrl, schema, ...(options.annalsRoot === undefined ? [] : [options.annalsRoot])];
  const worker = fork(new URL('./latency-worker.ts', import.meta.url), workerArgs, { execArgv: process.execArgv });
  const batches: { position: bigint; at: number }[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (message: { ready?: boolean; position?: string; at?: number }) => {
        if (message.ready) resolve();
        else if (message.position !== undefined) batches.push({ position: BigInt(message.position), at: message.at! });
      });
      worker.once('exit', (code) => reject(new Error(`latency worker exited (${code})`)));
    });

    const writers = 4;
    const interval = (1000 * writers) / rate;
    const posts = Array.from({ length: 1000 }, () => randomUUID());
    const appended: { position: bigint; start: number; measured: boolean }[] = [];
    const begin = now();
    const end = begin + (warmup + seconds) * 1000;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; ; i++) {
          const due = begin + (w * interval) / writers + i * interval;
          if (due >= end) return;
          await sleep(due - now());
          const postId = posts[(i * writers + w) % posts.length]!;
          const start = now();
          const { lastGlobalPosition } = await store.appendToStream(`post-${postId}`, [
            { type: 'LikeCreated', schemaVersion: 2, data: { postId, userId: randomUUID(), source: 'web' } },
          ]);
          appended.push({ position: lastGlobalPosition, start, measured: start >= begin + warmup * 1000 });
        }
      }),
    );
    // Let the worker see the last events, then match each event with the first batch that covered it.
    const last = appended.reduce((max, e) => (e.position > max ? e.position : max), 0n);
    const deadline = now() + 10_000;
    while (!batches.some((b) => b.position >= last) && now() < deadline) await sleep(20);
    const latencies: number[] = [];
    for (const event of appended.filter((e) => e.measured)) {
      const seen = batches.find((b) => b.position >= event.position);
      if (!seen) throw new Error(`event at ${event.position} never became visible`);
      latencies.push(Math.max(0, seen.at - event.start));
    }
    return {
      eventsPerSecond: rate,
      seconds,
      events: latencies.length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.reduce((most, value) => Math.max(most, value), 0),
    };
  } finally {
    worker.send({ stop: true });
    await new Promise((resolve) => worker.once('exit', resolve));
    await store.close();
    await dropTarget({ schema });
  }
}

if (isMain(import.meta.url)) {
  const figure = await runLatency();
  console.log(
    `append-to-read-model latency at ${figure.eventsPerSecond} events/s over ${figure.seconds} s (${figure.events} events): ` +
      `p50 ${formatMs(figure.p50Ms)} ms, p99 ${formatMs(figure.p99Ms)} ms, max ${formatMs(figure.maxMs)} ms`,
  );
}
