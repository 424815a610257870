/**
 * Figure: single-event appends, one event per call (and per transaction), at concurrency
 * 1 (the latency of one append, round trips and commit included) and 16 (throughput
 * under load, here CPU-bound on a small machine). Run alone: `npx tsx bench/append-single.ts`.
 */
import { appendFigure, runIfMain } from './figures.js';
import type { FigureResult } from './results.js';

export async function runSingleAppends(): Promise<FigureResult[]> {
  return [
    await appendFigure({ id: 'append-single-c1', title: 'single-event append, concurrency 1', concurrency: 1, eventsPerAppend: 1 }),
    await appendFigure({ id: 'append-single-c16', title: 'single-event append, concurrency 16', concurrency: 16, eventsPerAppend: 1 }),
  ];
}

await runIfMain(import.meta.url, runSingleAppends);
