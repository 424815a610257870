import { intFromEnv } from '../harness.js';

/** Run lengths of the outbox figures; override with the BENCH_OUTBOX_* variables. */
export const outboxSettings = {
  /** Events already in the log that each throughput round publishes from the start. */
  events: intFromEnv('BENCH_OUTBOX_EVENTS', 20_000),
  /** Posts (ordering keys) the events are spread over. */
  posts: intFromEnv('BENCH_OUTBOX_POSTS', 1_000),
  /** Throughput rounds per contestant, interleaved in a rotating order; the figure is the median. */
  rounds: intFromEnv('BENCH_OUTBOX_ROUNDS', 5),
  /** The relay's partitions and lanes per partition's batch (its defaults): the plain client gets partitions x lanes publishes in flight. */
  partitions: intFromEnv('BENCH_OUTBOX_PARTITIONS', 4),
  concurrency: intFromEnv('BENCH_OUTBOX_CONCURRENCY', 32),
  /** Appends per second of the latency figure. */
  latencyRate: intFromEnv('BENCH_OUTBOX_LATENCY_RATE', 500),
  /** Seconds of each measured latency window, and of the warm-up before the first. */
  latencyWindowSeconds: intFromEnv('BENCH_OUTBOX_LATENCY_WINDOW_S', 10),
  latencyWarmupSeconds: intFromEnv('BENCH_OUTBOX_LATENCY_WARMUP_S', 3),
  /** Latency windows per contestant, interleaved. */
  latencyRounds: intFromEnv('BENCH_OUTBOX_LATENCY_ROUNDS', 3),
};

export type OutboxSettings = typeof outboxSettings;
