/**
 * Run lengths and loads of the service figures (bench/service/). Each has a BENCH_SERVICE_*
 * variable; with the defaults a full run takes about three and a half minutes on a loaded
 * 2-core machine, most of it the 30 measured windows and their warm-ups.
 */
import { intFromEnv } from '../harness.js';

export const serviceSettings = {
  /** Measured windows per server and figure, interleaved in a rotating order; the figure is the median. */
  rounds: intFromEnv('BENCH_SERVICE_ROUNDS', 5),
  /**
   * One measured window, in whole seconds: autocannon samples once a second and stops on
   * a sample, so a fraction would be rounded up anyway.
   */
  windowSeconds: intFromEnv('BENCH_SERVICE_WINDOW_S', 3),
  /** Load before a server's first window: JIT, pools, Postgres' plan and buffer caches. */
  warmupSeconds: intFromEnv('BENCH_SERVICE_WARMUP_S', 2),
  /**
   * ...and at least this many answers (up to warmupMaxSeconds): V8 optimizes a path after
   * thousands of calls, not seconds. On a loaded machine 2 s of GraphQL reads were a few
   * hundred, and the first round's CPU per request was three times the last's.
   */
  warmupRequests: intFromEnv('BENCH_SERVICE_WARMUP_REQUESTS', 10_000),
  /** The visibility figure's warm-up, in writes made visible. */
  warmupWrites: intFromEnv('BENCH_SERVICE_WARMUP_WRITES', 500),
  warmupMaxSeconds: intFromEnv('BENCH_SERVICE_WARMUP_MAX_S', 10),
  /** Load before each later window, after the server sat idle while the other ran. */
  rewarmSeconds: intFromEnv('BENCH_SERVICE_REWARM_S', 1),
  /**
   * autocannon's connections, each with one request in flight: the harness' command
   * concurrency (a busy service's worth), for reads and mutations alike.
   */
  connections: intFromEnv('BENCH_SERVICE_CONNECTIONS', 16),
  /** Connections of each server's pg pool: Annals' and pg's default. */
  poolSize: intFromEnv('BENCH_SERVICE_POOL', 10),
  /** Posts the read figure asks for, seeded with 0 to 19 likes each. */
  posts: intFromEnv('BENCH_SERVICE_POSTS', 1_000),
  /** Posts each server's mutations spread over (its own, so neither lengthens the other's streams). */
  mutationPosts: intFromEnv('BENCH_SERVICE_MUTATION_POSTS', 1_000),
  /** Clients of the visibility figure, each a mutation then its read in a loop, on a post of its own. */
  visibilityClients: intFromEnv('BENCH_SERVICE_VISIBILITY_CLIENTS', 4),
};
