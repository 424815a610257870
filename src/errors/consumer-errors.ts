/** Errors of consumers of the log: projections and other consumers stopping, timing out, dead letters. */
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
