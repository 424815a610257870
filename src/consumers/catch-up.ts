import type { EventStore } from '../event-store/event-store.js';
import { ConsumerStoppedError, ConsumerTimeoutError } from '../errors.js';
import { consumerStatus } from './consumer-status.js';
import type { Consumer } from './define-consumer.js';
import { runConsumers, type RunConsumersOptions } from './run-consumers.js';

export interface CatchUpConsumersOptions extends RunConsumersOptions {
  /** Give up after this long (default 60,000 ms). */
  timeoutMs?: number;
}

/**
 * Runs the consumers in this process until each has processed every event committed
 * before the call, then stops them. An event committed before the call can still be
 * invisible to readers while an older transaction of this store is open
 * (docs/global-log.md): the call waits for it, up to `timeoutMs`. For scripts, tests and
 * one-off jobs; services run `runConsumers`.
 *
 * @throws ConsumerStoppedError when a partition stopped on a failing handler.
 * @throws ConsumerTimeoutError when that point is not reached within `timeoutMs`.
 * @example
 * ```ts
 * await catchUpConsumers(store, [orderProcess]);
 * ```
 */
export async function catchUpConsumers(store: EventStore, consumers: readonly Consumer[], options: CatchUpConsumersOptions = {}): Promise<void> {
  const { timeoutMs = 60_000, ...runOptions } = options;
  const names = consumers.map((consumer) => consumer.name);
  const target = await store.lastCommittedPosition();
  const runner = runConsumers(store, consumers, { pollIntervalMs: 50, ...runOptions });
  const deadline = Date.now() + timeoutMs;
  try {
    if (!(await readyWithin(runner.ready, timeoutMs))) throw new ConsumerTimeoutError(names, timeoutMs, 'the workers could not start (is the database reachable?)');
    for (;;) {
      const { partitions } = await consumerStatus(store, consumers);
      const stopped = partitions.find((p) => p.stoppedError !== null);
      if (stopped) throw new ConsumerStoppedError(stopped.consumer, stopped.partition, stopped.stoppedError!);
      const behind = partitions.filter((p) => p.position < target);
      if (behind.length === 0 && partitions.length > 0) return;
      if (Date.now() > deadline) {
        const where = behind.map((p) => `${p.consumer} partition ${p.partition} at ${p.position} of ${target}`).join('; ');
        throw new ConsumerTimeoutError(names, timeoutMs, where || 'no partitions were set up');
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await runner.stop();
  }
}

/**
 * Whether `ready` resolved within `timeoutMs` (it rejects as it does). A runner keeps
 * trying while the database is unreachable; a catch-up gives up at its deadline.
 */
export async function readyWithin(ready: Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    ready.then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]).finally(() => clearTimeout(timer));
}
