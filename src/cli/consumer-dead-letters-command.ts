import { listConsumerDeadLetters, retryConsumerDeadLetter, skipConsumerDeadLetter, type Consumer, type ConsumerDeadLetter, type EventStore } from '../index.js';
import { deadLetterStatuses, deadLetterTable } from './dead-letters-command.js';
import { toJson } from './output.js';
import { UsageError } from './usage-error.js';

/** At most this many dead letters are listed, as the projections' list does. */
const listLimit = 1000;

/**
 * `annals consumers dead-letters [list]`: the dead letters of `consumers` (the configured
 * ones, or the one `--consumer` names), oldest first, as a table or as JSON.
 */
export async function listConsumerDeadLettersCommand(
  store: EventStore,
  consumers: readonly Consumer[],
  options: { status: (typeof deadLetterStatuses)[number]; json: boolean },
): Promise<string> {
  // One query per consumer: the list is of the configured consumers only, and a config
  // lists a few. Ids grow with time, so sorting by id puts the oldest first again.
  const lists = await Promise.all(consumers.map((c) => listConsumerDeadLetters(store, { consumer: c.name, status: options.status, limit: listLimit })));
  const letters = lists
    .flat()
    .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
    .slice(0, listLimit);
  if (options.json) return toJson(letters);
  return deadLetterTable(letters, { owner: 'consumer', status: options.status });
}

/**
 * `annals consumers dead-letters retry ID`: the consumer's handler, as configured now, on
 * the event. @throws DeadLetterError, or the handler's own error (see retryConsumerDeadLetter)
 */
export async function retryConsumerDeadLetterCommand(store: EventStore, consumers: readonly Consumer[], id: string): Promise<string> {
  const letter = await retryConsumerDeadLetter(store, consumers, checkedId(id));
  return `retried dead letter ${letter.id}: ${describe(letter)} is handled now`;
}

/** `annals consumers dead-letters skip ID`. @throws DeadLetterError (see skipConsumerDeadLetter) */
export async function skipConsumerDeadLetterCommand(store: EventStore, id: string): Promise<string> {
  const letter = await skipConsumerDeadLetter(store, checkedId(id));
  return `skipped dead letter ${letter.id}: ${describe(letter)} will not be handled`;
}

function describe(letter: ConsumerDeadLetter): string {
  return `${letter.eventType} at position ${letter.globalPosition} (stream '${letter.streamId}' v${letter.streamVersion}) for ${letter.consumer}`;
}

function checkedId(id: string): string {
  if (!/^\d{1,18}$/.test(id)) throw new UsageError(`ID must be a dead letter id (digits, as listed by annals consumers dead-letters), got '${id}'`);
  return id;
}
