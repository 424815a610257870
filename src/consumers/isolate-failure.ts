import type { AnyConsumerClient, ConsumerUnit } from './consumer-client.js';
import type { BatchOutcome } from './consumer-batch.js';
import type { ConsumerEngine } from './consumer-engine.js';
import { ends } from './consumer-engine.js';
import { afterFailure } from './failure-policy.js';
import { describe, isRetryable } from './failures.js';
import * as partitions from './partitions.js';

/**
 * After a batch failed: go on one event per batch, so the events before the culprit
 * commit, the culprit is retried with backoff (outside any transaction: a transaction
 * held open while waiting would hold back every reader of the log), and after the last
 * attempt is dead-lettered (or stops the partition). A failure no retry can cure
 * (isRetryable) gets no further attempt. Then back to batches. A database fault on the
 * way is thrown to the unit's loop, which backs off and starts over.
 */
export async function isolateFailure(engine: ConsumerEngine, client: AnyConsumerClient, unit: ConsumerUnit, batchSize: number): Promise<void> {
  const { log, options, workerId } = engine;
  const policy = {
    attempts: options.retries?.attempts ?? 5,
    minDelayMs: options.retries?.minDelayMs ?? 100,
    maxDelayMs: options.retries?.maxDelayMs ?? 5000,
    onFailure: options.onFailure ?? 'dead-letter',
  };
  for (let processed = 0; processed < batchSize; processed++) {
    if (unit.lost || engine.stopping) return;
    let outcome: BatchOutcome;
    for (let attempt = 1; ; attempt++) {
      outcome = await engine.batch(client, unit, 1);
      if (outcome.kind !== 'failed') break;
      const { error, failedEvent, from } = outcome;
      const position = failedEvent?.globalPosition.toString();
      const where = { consumer: unit.consumer, partition: unit.partition, position };
      log.warn({ err: error, ...where, attempt, retryable: isRetryable(error) }, `${options.noun} handler failed`);
      const next = afterFailure(error, { attempt, event: failedEvent !== undefined }, policy);
      if (next.kind === 'retry') {
        await engine.transaction((tx) => partitions.countRetry(tx, unit, workerId));
        await engine.sleep(next.delayMs);
        if (unit.lost || engine.stopping) return;
        continue;
      }
      if (next.kind === 'stop' || !failedEvent) {
        const stopped = await engine.transaction((tx) => partitions.stopPartition(tx, unit, { workerId, from }, describe(error)));
        if (stopped) {
          log.error({ err: error, consumer: unit.consumer, partition: unit.partition }, `${options.noun} partition stopped`);
          engine.checkpointMoved();
        }
        unit.lost = true;
        return;
      }
      const dead = await engine.transaction((tx) =>
        partitions.deadLetter(tx, unit, { workerId, from }, {
          globalPosition: failedEvent.globalPosition,
          id: failedEvent.id,
          streamId: failedEvent.streamId,
          version: failedEvent.version,
          type: failedEvent.type,
          message: describe(error),
          stack: error instanceof Error ? (error.stack ?? null) : null,
          attempts: attempt,
        }),
      );
      if (dead) {
        log.error({ consumer: unit.consumer, position, attempts: attempt }, 'event dead-lettered');
        engine.checkpointMoved();
      }
      outcome = dead ? { kind: 'done', events: 1, position: failedEvent.globalPosition, caughtUp: false, plan: undefined } : { kind: 'lost' };
      break;
    }
    if (ends(unit, outcome)) return;
    if (outcome.kind === 'done' && outcome.caughtUp) return;
  }
}
