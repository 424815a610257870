import { z } from 'zod';
import type { ConsumerBatchReport, ConsumerLogger, ConsumerRunOptions } from '../consumers/engine-options.js';
import { runOptionsSchema } from '../consumers/run-consumers.js';

/** What the runner reports; pino's logger fits (`logger: pino()`). */
export type ProjectionLogger = ConsumerLogger;

/** The engine's options (worker id, poll interval, lease, retries, onFailure, logger), and the projections' own. */
export interface RunProjectionsOptions extends ConsumerRunOptions {
  /** Events read per batch while live (default 500). */
  batchSize?: number;
  /** Events read per batch while rebuilding (default 5,000). */
  replayBatchSize?: number;
  /** Rebuild on their own when the code's version is newer than the live one (default true). */
  autoRebuild?: boolean;
  /** Names of the projections that are applied inline (see withInlineProjections). */
  inline?: readonly string[];
  /** Called after each committed batch, e.g. to draw a progress bar. */
  onBatch?: (batch: BatchReport) => void;
}

/** A committed batch of a projection's partition. */
export type BatchReport = Omit<ConsumerBatchReport, 'consumer'> & { projection: string };

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
    ...runOptionsSchema.unwrap().shape,
    batchSize: z.number().int().min(1).max(100_000).optional(),
    replayBatchSize: z.number().int().min(1).max(100_000).optional(),
    autoRebuild: z.boolean().optional(),
    inline: z.array(z.string()).optional(),
  })
  .optional();
