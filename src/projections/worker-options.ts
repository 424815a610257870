import { z } from 'zod';

/** What the runner reports; pino's logger fits (`logger: pino()`). */
export interface ProjectionLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface RunProjectionsOptions {
  /** This worker's name in leases and status (default: host, pid and a random suffix). */
  workerId?: string;
  /** Events read per batch while live (default 500). */
  batchSize?: number;
  /** Events read per batch while rebuilding (default 5,000). */
  replayBatchSize?: number;
  /** Longest wait for new events when no notification arrives (default 1,000 ms). */
  pollIntervalMs?: number;
  /**
   * How long a partition stays owned without a heartbeat (default 5,000 ms). When a
   * worker dies, another takes its partitions over within about this plus one
   * heartbeat (a third of it).
   */
  leaseTtlMs?: number;
  /** Retries of an event whose handler fails, with exponential backoff (default 5 attempts, 100 ms to 5 s). */
  retries?: { attempts?: number; minDelayMs?: number; maxDelayMs?: number };
  /** After the last attempt: dead-letter the event and go on (default), or stop the partition. */
  onFailure?: 'dead-letter' | 'stop';
  /** Rebuild on their own when the code's version is newer than the live one (default true). */
  autoRebuild?: boolean;
  /** Names of the projections that are applied inline (see withInlineProjections). */
  inline?: readonly string[];
  /** Where to report ownership changes, failures and switches (default: nowhere). */
  logger?: ProjectionLogger;
  /** Called after each committed batch, e.g. to draw a progress bar. */
  onBatch?: (batch: BatchReport) => void;
}

export interface BatchReport {
  projection: string;
  generation: number;
  partition: number;
  replaying: boolean;
  events: number;
  position: bigint;
  caughtUp: boolean;
}

export interface ProjectionRunner {
  readonly workerId: string;
  /**
   * Resolves once the runner has registered, set its projections up and run its first
   * membership round (claimed its share of partitions). While the database cannot be
   * reached it keeps trying, with backoff, logging each failure, and resolves when it
   * succeeds; it rejects only on what no retry cures (an invalid definition such as a
   * changed `partitions` at the same version, a closed store). stop() before then
   * resolves it.
   */
  readonly ready: Promise<void>;
  /** Finishes (or rolls back) the batches in flight, releases ownership, stops. */
  stop(): Promise<void>;
}

export const optionsSchema = z
  .object({
    workerId: z.string().min(1).max(200).optional(),
    batchSize: z.number().int().min(1).max(100_000).optional(),
    replayBatchSize: z.number().int().min(1).max(100_000).optional(),
    pollIntervalMs: z.number().int().min(10).max(600_000).optional(),
    leaseTtlMs: z.number().int().min(300).max(600_000).optional(),
    retries: z
      .object({
        attempts: z.number().int().min(1).max(100).optional(),
        minDelayMs: z.number().min(0).optional(),
        maxDelayMs: z.number().min(0).optional(),
      })
      .optional(),
    onFailure: z.enum(['dead-letter', 'stop']).optional(),
    autoRebuild: z.boolean().optional(),
    inline: z.array(z.string()).optional(),
    logger: z.unknown().optional(),
    onBatch: z.unknown().optional(),
  })
  .optional();

export const silent: ProjectionLogger = { info() {}, warn() {}, error() {} };
