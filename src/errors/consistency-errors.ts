/**
 * Errors of waiting for read models to reach a global position (read your writes,
 * `waitForProjections`): the wait timed out, or it never could succeed (a rebuild with no
 * live generation being processed, a stopped partition, the write's event dead-lettered).
 */
import { AnnalsError, ErrorCodes } from './annals-error.js';

/**
 * The projections did not process the position within the time given (default 5 s). The
 * write is in the log and will be reflected: ask again later. `projections` are those still
 * behind; the message says where each partition stood.
 *
 * @example
 * ```ts
 * // ConsistencyTimeoutError: like-counts did not reach position 789577728 within 5000 ms: like-counts partition 0 at 789577216
 * if (error instanceof ConsistencyTimeoutError) return { retryAfterMs: 1000 };
 * ```
 */
export class ConsistencyTimeoutError extends AnnalsError {
  readonly projections: readonly string[];
  readonly position: bigint;
  readonly timeoutMs: number;

  constructor(projections: readonly string[], position: bigint, timeoutMs: number, detail: string) {
    super(ErrorCodes.consistencyTimeout, `${projections.join(', ')} did not reach position ${position} within ${timeoutMs} ms${detail ? `: ${detail}` : ''}`);
    this.projections = projections;
    this.position = position;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The projection's read model cannot reach the position until a rebuild switches: it has
 * no live generation yet (its first one is being built), or its live generation is behind
 * and no worker of its version runs any more (the new version's workers are filling the
 * rebuild). Answered at once rather than after the timeout. Ask again once the rebuild has
 * switched (`projectionStatus` shows its progress).
 *
 * @example
 * ```ts
 * if (error instanceof ConsistencyRebuildingError) console.log(error.projection, error.generation);
 * ```
 */
export class ConsistencyRebuildingError extends AnnalsError {
  readonly projection: string;
  readonly position: bigint;
  /** The generation being built. */
  readonly generation: number;
  /** The code version building it. */
  readonly version: number;

  constructor(target: { projection: string; position: bigint; generation: number; version: number }, why: string) {
    super(
      ErrorCodes.consistencyRebuilding,
      `projection '${target.projection}' cannot reach position ${target.position} before its rebuild (generation ${target.generation}, version ${target.version}) switches: ${why}`,
    );
    this.projection = target.projection;
    this.position = target.position;
    this.generation = target.generation;
    this.version = target.version;
  }
}

/**
 * A partition of the projection's live generation that holds an event at or below the
 * position stopped on a failing handler (`onFailure: 'stop'`) before it: it will not
 * reach the position until the handler is fixed and the projection resumed
 * (`resumeProjection`, `annals projections resume`). Answered at once.
 *
 * @example
 * ```ts
 * if (error instanceof ConsistencyStoppedError) alert(`${error.projection} partition ${error.partition}: ${error.reason}`);
 * ```
 */
export class ConsistencyStoppedError extends AnnalsError {
  readonly projection: string;
  readonly partition: number;
  readonly position: bigint;
  /** Why the partition stopped: the handler's error. */
  readonly reason: string;

  constructor(target: { projection: string; partition: number; position: bigint }, reason: string) {
    super(ErrorCodes.consistencyStopped, `projection '${target.projection}' partition ${target.partition} is stopped before position ${target.position}: ${reason}`);
    this.projection = target.projection;
    this.partition = target.partition;
    this.position = target.position;
    this.reason = reason;
  }
}

/** The dead-lettered event of a write, as ConsistencyDeadLetteredError names it. */
export interface DeadLetteredEvent {
  /** The dead letter's id (`retryDeadLetter(store, projections, id)`). */
  deadLetterId: string;
  globalPosition: bigint;
  eventType: string;
  streamId: string;
  /** The handler's error. */
  error: string;
}

/**
 * An event of the write (the transaction that appended the event at the position) was
 * dead-lettered by the projection: the checkpoint went on past it, so the read model will
 * never reflect it unless the dead letter is retried (`retryDeadLetter`). Answered as soon
 * as the dead letter is recorded, not after the timeout.
 *
 * @example
 * ```ts
 * if (error instanceof ConsistencyDeadLetteredError) log.error({ deadLetter: error.event.deadLetterId }, error.message);
 * ```
 */
export class ConsistencyDeadLetteredError extends AnnalsError {
  readonly projection: string;
  readonly position: bigint;
  readonly event: DeadLetteredEvent;

  constructor(target: { projection: string; position: bigint }, event: DeadLetteredEvent) {
    super(
      ErrorCodes.consistencyDeadLettered,
      `projection '${target.projection}' dead-lettered ${event.eventType} at position ${event.globalPosition} (stream ${event.streamId}, dead letter ${event.deadLetterId}), ` +
        `of the write at position ${target.position}: its read model will not reflect it unless the dead letter is retried: ${event.error}`,
    );
    this.projection = target.projection;
    this.position = target.position;
    this.event = event;
  }
}
