/**
 * Figure: batched appends, 100 events to one stream per call (one transaction), one
 * caller at a time: the per-event cost of the client and of the insert itself dominate.
 * Run alone: `npx tsx bench/append-batch.ts`.
 */
import { appendFigure, runIfMain } from './figures.js';
import type { FigureResult } from './results.js';

export const eventsPerBatch = 100;

export async function runBatchedAppends(): Promise<FigureResult[]> {
  return [
    await appendFigure({
      id: 'append-batch',
      title: `batched append, ${eventsPerBatch} events per call`,
      concurrency: 1,
      eventsPerAppend: eventsPerBatch,
    }),
  ];
}

await runIfMain(import.meta.url, runBatchedAppends);
