/** Errors of consumers of the log: projections and other consumers stopping, timing out, dead letters; a projection's schema() failing. */
import { AnnalsError, ErrorCodes } from './annals-error.js';

/**
 * A projection partition stopped after a handler kept failing (with `onFailure: 'stop'`).
 * Fix the handler, then `resumeProjection` (or `annals projections resume`).
 */
export class ProjectionStoppedError extends AnnalsError {
  readonly projection: string;
  readonly partition: number;
  readonly reason: string;

  constructor(projection: string, partition: number, reason: string) {
    super(ErrorCodes.projectionStopped, `projection '${projection}' partition ${partition} is stopped: ${reason}`);
    this.projection = projection;
    this.partition = partition;
    this.reason = reason;
  }
}

/** A consumer's partition stopped after its handler kept failing (onFailure: 'stop'). */
export class ConsumerStoppedError extends AnnalsError {
  readonly consumer: string;
  readonly partition: number;
  readonly reason: string;

  constructor(consumer: string, partition: number, reason: string) {
    super(ErrorCodes.consumerStopped, `consumer '${consumer}' partition ${partition} is stopped: ${reason}`);
    this.consumer = consumer;
    this.partition = partition;
    this.reason = reason;
  }
}

/** `catchUpConsumers` did not reach what was committed before the call in time. */
export class ConsumerTimeoutError extends AnnalsError {
  readonly consumers: readonly string[];

  constructor(consumers: readonly string[], timeoutMs: number, detail: string) {
    super(ErrorCodes.consumerTimeout, `consumers ${consumers.join(', ')} did not catch up within ${timeoutMs} ms: ${detail}`);
    this.consumers = consumers;
  }
}

/** `catchUpProjections` did not reach the head of the log in time. */
export class ProjectionTimeoutError extends AnnalsError {
  readonly projections: readonly string[];

  constructor(projections: readonly string[], timeoutMs: number, detail: string) {
    super(ErrorCodes.projectionTimeout, `projections ${projections.join(', ')} did not catch up within ${timeoutMs} ms: ${detail}`);
    this.projections = projections;
  }
}

/** A dead letter could not be retried or skipped: unknown id, already resolved, or its generation retired. */
export class DeadLetterError extends AnnalsError {
  readonly id: string;

  constructor(id: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.deadLetter, `dead letter ${id}: ${message}`, options);
    this.id = id;
  }
}

/** A projection name that none of the given definitions has. */
export class UnknownProjectionError extends AnnalsError {
  readonly projection: string;

  constructor(projection: string, known: readonly string[]) {
    super(ErrorCodes.unknownProjection, `no projection named '${projection}' (known: ${known.join(', ') || 'none'})`);
    this.projection = projection;
  }
}

/** Which projection's `schema()` failed, and for which generation. */
export interface ProjectionSchemaTarget {
  projection: string;
  /** The code version whose `schema()` ran. */
  version: number;
  /** The generation whose tables it was creating (nothing of it was kept). */
  generation: number;
}

/**
 * A projection's `schema()` (the DDL of its read-model tables, run once per generation:
 * at setup, when a worker starts, for a rebuild) threw, or a statement of it failed. The
 * generation was not created: its transaction rolled back. `cause` is what `schema()`
 * threw (for SQL, the `pg` error with its SQLSTATE `code`). Workers do not retry it
 * unless the cause is a passing database fault: the same code fails the same way.
 *
 * @example
 * ```ts
 * // ProjectionSchemaError: projection 'like-counts' v2: schema() failed: type "integr" does not exist
 * if (error instanceof ProjectionSchemaError) console.error(error.projection, error.version, error.cause);
 * ```
 */
export class ProjectionSchemaError extends AnnalsError {
  readonly projection: string;
  readonly version: number;
  readonly generation: number;

  constructor(target: ProjectionSchemaTarget, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(ErrorCodes.projectionSchema, `projection '${target.projection}' v${target.version}: schema() failed: ${reason}`, { cause });
    this.projection = target.projection;
    this.version = target.version;
    this.generation = target.generation;
  }
}
