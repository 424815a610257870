import { listDeadLetters, retryDeadLetter, skipDeadLetter, type AnyProjection, type ConsumerDeadLetter, type DeadLetter, type EventStore } from '../index.js';
import { formatTable, toJson, truncate } from './output.js';
import { UsageError } from './usage-error.js';

/** The statuses `--status` accepts. */
export const deadLetterStatuses = ['pending', 'retried', 'skipped', 'all'] as const;

/**
 * `annals projections dead-letters [list]`: the dead letters, oldest first (by default
 * the pending ones of every projection), as a table or as JSON.
 */
export async function listDeadLettersCommand(
  store: EventStore,
  options: { projection?: string; status: (typeof deadLetterStatuses)[number]; json: boolean },
): Promise<string> {
  const letters = await listDeadLetters(store, {
    status: options.status,
    ...(options.projection === undefined ? {} : { projection: options.projection }),
  });
  if (options.json) return toJson(letters);
  return deadLetterTable(
    letters.map(({ projection, ...letter }) => ({ ...letter, consumer: projection })),
    { owner: 'projection', status: options.status },
  );
}

/**
 * Dead letters as the CLI lists them, a row each, oldest first; for projections (`owner:
 * 'projection'`) with the generation each failed in. Consumers have one generation.
 */
export function deadLetterTable(
  letters: readonly ConsumerDeadLetter[],
  options: { owner: 'projection' | 'consumer'; status: (typeof deadLetterStatuses)[number] },
): string {
  if (letters.length === 0) return `no ${options.status === 'all' ? '' : `${options.status} `}dead letters`;
  const generations = options.owner === 'projection';
  return formatTable(
    [
      { title: 'id', align: 'right' },
      { title: options.owner },
      ...(generations ? [{ title: 'gen', align: 'right' as const }] : []),
      { title: 'part', align: 'right' },
      { title: 'position', align: 'right' },
      { title: 'stream' },
      { title: 'version', align: 'right' },
      { title: 'type' },
      { title: 'attempts', align: 'right' },
      { title: 'status' },
      { title: 'failed at' },
      { title: 'error' },
    ],
    letters.map((letter) => [
      letter.id,
      letter.consumer,
      ...(generations ? [String(letter.generation)] : []),
      String(letter.partition),
      letter.globalPosition.toString(),
      letter.streamId,
      String(letter.streamVersion),
      letter.eventType,
      String(letter.attempts),
      letter.status,
      letter.failedAt.toISOString(),
      truncate(letter.error, 80),
    ]),
  );
}

/** `annals projections dead-letters retry ID`. @throws DeadLetterError (see retryDeadLetter) */
export async function retryDeadLetterCommand(store: EventStore, projections: readonly AnyProjection[], id: string): Promise<string> {
  const letter = await retryDeadLetter(store, projections, checkedId(id));
  return `retried dead letter ${letter.id}: ${describe(letter)} is applied now`;
}

/** `annals projections dead-letters skip ID`. @throws DeadLetterError (see skipDeadLetter) */
export async function skipDeadLetterCommand(store: EventStore, id: string): Promise<string> {
  const letter = await skipDeadLetter(store, checkedId(id));
  return `skipped dead letter ${letter.id}: ${describe(letter)} will not be applied`;
}

function describe(letter: DeadLetter): string {
  return `${letter.eventType} at position ${letter.globalPosition} (stream '${letter.streamId}' v${letter.streamVersion}) for ${letter.projection} generation ${letter.generation}`;
}

function checkedId(id: string): string {
  if (!/^\d{1,18}$/.test(id)) throw new UsageError(`ID must be a dead letter id (digits, as listed by annals projections dead-letters), got '${id}'`);
  return id;
}
