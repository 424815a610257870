import { z } from 'zod';
import { ConsumerEngine } from '../consumers/consumer-engine.js';
import { silent } from '../consumers/engine-options.js';
import type { EventStore } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';
import type { AnyProjection } from './define-projection.js';
import { projectionConsumer } from './projection-consumer.js';
import { optionsSchema, type ProjectionRunner, type RunProjectionsOptions } from './worker-options.js';

export type { BatchReport, ProjectionLogger, ProjectionRunner, RunProjectionsOptions } from './worker-options.js';

/**
 * Runs projection workers in this process, on the log-consumer engine (src/consumers/):
 * claims a fair share of the projections' partitions (leases in Postgres, shared with
 * the other processes running the same version of them), and for each one reads the
 * global log from its checkpoint in batches, applies the handlers and moves the
 * checkpoint in the same transaction. New events wake it through LISTEN/NOTIFY, with
 * polling as a fallback. Generations being rebuilt are processed the same way, in larger
 * batches, and switched to when they have caught up. No database fault stops it: every
 * one is logged and retried with backoff.
 *
 * @example
 * ```ts
 * const runner = runProjections(store, [likeCounts, userLikes], { logger: pino() });
 * process.on('SIGTERM', () => runner.stop());
 * ```
 */
export function runProjections(store: EventStore, projections: readonly AnyProjection[], options: RunProjectionsOptions = {}): ProjectionRunner {
  const checked = { ...options, ...(parseInput(optionsSchema, options, 'options') ?? {}) } as RunProjectionsOptions;
  const names = new Set<string>();
  for (const [index, projection] of projections.entries()) {
    if (names.has(projection.name)) {
      parseInput(z.never({ error: `'${projection.name}' is given twice` }), projection.name, `projections[${index}].name`);
    }
    names.add(projection.name);
  }
  const logger = checked.logger ?? silent;
  const inline = new Set(checked.inline ?? []);
  const clients = projections.map((projection) =>
    projectionConsumer(projection, {
      store,
      inline: inline.has(projection.name),
      autoRebuild: checked.autoRebuild ?? true,
      batchSize: checked.batchSize ?? 500,
      replayBatchSize: checked.replayBatchSize ?? 5000,
      logger,
      // Read once the engine exists: its constructor starts the setup, never a claim.
      workerId: () => engine.workerId,
    }),
  );
  const { onBatch, logger: _given, ...common } = checked;
  const engine: ConsumerEngine = new ConsumerEngine(store, clients, {
    ...common,
    logger,
    noun: 'projection',
    ...(onBatch ? { onBatch: ({ consumer, ...report }) => onBatch({ projection: consumer, ...report }) } : {}),
  });
  return engine;
}
