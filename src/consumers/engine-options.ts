/** What the engine reports; pino's logger fits (`logger: pino()`). */
export interface ConsumerLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export const silent: ConsumerLogger = { info() {}, warn() {}, error() {} };

/** Reported after each committed batch. */
export interface ConsumerBatchReport {
  consumer: string;
  generation: number;
  partition: number;
  replaying: boolean;
  events: number;
  position: bigint;
  caughtUp: boolean;
}

/** What every runner of consumers (projections, process managers, the outbox relay) can set. */
export interface ConsumerRunOptions {
  /** This worker's name in leases and status (default: host, pid and a random suffix). */
  workerId?: string;
  /** Longest wait for new events when no notification arrives (default 1,000 ms). */
  pollIntervalMs?: number;
  /**
   * How long a partition stays owned without a heartbeat (default 5,000 ms). When a
   * worker dies, another takes its partitions over within about this plus one
   * heartbeat (a third of it).
   */
  leaseTtlMs?: number;
  /** Attempts at an event whose handler fails, with exponential backoff (default 5 attempts, 100 ms to 5 s). */
  retries?: { attempts?: number; minDelayMs?: number; maxDelayMs?: number };
  /** After the last attempt: dead-letter the event and go on (default), or stop the partition. */
  onFailure?: 'dead-letter' | 'stop';
  /** Where to report ownership changes, failures and switches (default: nowhere). */
  logger?: ConsumerLogger;
}

/** The engine's settings: the common options, checked, plus how its messages name what it runs. */
export interface EngineOptions extends Omit<ConsumerRunOptions, 'logger'> {
  logger: ConsumerLogger;
  /** 'projection', 'consumer': the first word of the engine's log messages. */
  noun: string;
  onBatch?: (report: ConsumerBatchReport) => void;
}
