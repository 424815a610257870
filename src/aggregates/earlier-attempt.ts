import { createHash } from 'node:crypto';
import { IdempotencyConflictError } from '../errors.js';
import type { EventStoreSession } from '../event-store/event-store.js';
import { isFingerprintOf } from './command-fingerprint.js';
import type { AnyAggregate, Command, CommandsOf, StateOf } from './define-aggregate.js';
import type { CommandResult } from './handle-command.js';

// A command with an id is idempotent: its events' ids derive from the id, so a retry
// finds what an earlier attempt appended and is answered with that.

/**
 * The event id of the `index`-th event a command appends: a UUID (version 5 layout) from
 * a SHA-1 of stream, command id and index, so retries of a command reproduce its ids.
 */
export function eventIdFor(streamId: string, commandId: string, index: number): string {
  const bytes = createHash('sha1').update(`annals\u0000${streamId}\u0000${commandId}\u0000${index}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A command with an id, and where it runs: what finding its earlier attempt needs. */
export interface IdentifiedCommand<A extends AnyAggregate> {
  session: EventStoreSession;
  aggregate: A;
  streamId: string;
  commandId: string;
  command: Command<CommandsOf<A>>;
}

/**
 * What an earlier attempt of this command appended, as a result answering with `state`;
 * `null` if none.
 *
 * @throws IdempotencyConflictError when the command id was used for a different command.
 */
export async function findEarlierResult<A extends AnyAggregate>(
  { session, aggregate, streamId, commandId, command }: IdentifiedCommand<A>,
  state: StateOf<A>,
): Promise<CommandResult<A> | null> {
  const found = [];
  // A command appends its events in one batch with ids 0, 1, 2…: fetch them in pages.
  for (let start = 0; ; start += 64) {
    const ids = Array.from({ length: 64 }, (_, i) => eventIdFor(streamId, commandId, start + i));
    const page = await session.readEventsById(ids);
    found.push(...page);
    if (page.length < 64) break;
  }
  if (found.length === 0) return null;
  const earlierHash = found[0]!.metadata.commandHash;
  if (earlierHash !== undefined && !isFingerprintOf(earlierHash, command)) {
    throw new IdempotencyConflictError(streamId, found[0]!.id, `command id '${commandId}' was used before for a different command`);
  }
  const last = found.at(-1)!;
  return {
    events: found.map((event) => ({
      ...aggregate.eventCodec.decode(event),
      id: event.id,
      version: event.version,
      metadata: event.metadata,
    })) as CommandResult<A>['events'],
    nextExpectedVersion: last.version,
    globalPosition: last.globalPosition,
    state,
  };
}
