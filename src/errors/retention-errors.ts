/** Errors of retention (docs/retention.md). */
import { AnnalsError, ErrorCodes } from './annals-error.js';

/**
 * A rebuild would replay history that retention removed: its read model would silently
 * differ from the live one, built when the events were there. Rebuild from `removedThrough`
 * (the category's history after it is complete), or accept the removed history.
 */
export class RemovedHistoryError extends AnnalsError {
  readonly projection: string;
  readonly category: string;
  /** The highest global position retention removed in the category. */
  readonly removedThrough: bigint;

  constructor(projection: string, from: bigint, removed: { category: string; removedThrough: bigint }) {
    super(
      ErrorCodes.removedHistory,
      `rebuilding '${projection}' from position ${from} would replay an incomplete history: retention removed events of category '${removed.category}' up to position ${removed.removedThrough}; rebuild from there (--from ${removed.removedThrough}), or accept the removed history (--accept-removed-history, acceptRemovedHistory: true) to build from what the log still holds`,
    );
    this.projection = projection;
    this.category = removed.category;
    this.removedThrough = removed.removedThrough;
  }
}
