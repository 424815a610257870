/**
 * Dead letters for the admin schema: a page of them (oldest first), and what `retry` and
 * `skip` return, shaped for GraphQL.
 */
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { DeadLetterStatus } from '../../consumers/dead-letters.js';
import type { EventStore } from '../../event-store/event-store.js';
import { listDeadLetters, type DeadLetter } from '../../projections/dead-letters.js';
import { defineConnection, type Connection, type ConnectionArgs } from '../../graphql/connection.js';

/** A dead letter as the admin schema shows it (its `event` is loaded in one read per page). */
export interface DeadLetterNode {
  id: string;
  projection: string;
  generation: number;
  partition: number;
  position: string;
  eventId: string;
  streamId: string;
  streamVersion: number;
  eventType: string;
  error: string;
  stack: string | null;
  attempts: number;
  status: 'PENDING' | 'RETRIED' | 'SKIPPED';
  failedAt: string;
  resolvedAt: string | null;
}

export const toDeadLetterNode = (letter: DeadLetter): DeadLetterNode => ({
  id: letter.id,
  projection: letter.projection,
  generation: letter.generation,
  partition: letter.partition,
  position: letter.globalPosition.toString(),
  eventId: letter.eventId,
  streamId: letter.streamId,
  streamVersion: letter.streamVersion,
  eventType: letter.eventType,
  error: letter.error,
  stack: letter.stack,
  attempts: letter.attempts,
  status: letter.status.toUpperCase() as DeadLetterNode['status'],
  failedAt: letter.failedAt.toISOString(),
  resolvedAt: letter.resolvedAt?.toISOString() ?? null,
});

const deadLetters = defineConnection({
  name: 'admin.deadLetters',
  key: z.string().regex(/^\d{1,18}$/),
  keyOf: (letter: DeadLetter) => letter.id,
});

export interface DeadLettersArgs extends ConnectionArgs {
  projection?: string | null;
  status?: 'PENDING' | 'RETRIED' | 'SKIPPED' | 'ALL' | null;
}

/**
 * `deadLetters(projection, status, first, after)`: projections' dead letters, oldest
 * first; by default the pending ones of every projection.
 *
 * @throws ValidationError naming the argument (`projection`, `first`, `after`).
 */
export async function readDeadLettersPage(store: EventStore, args: DeadLettersArgs): Promise<Connection<DeadLetterNode>> {
  const page = deadLetters.page(args);
  if (args.projection === '') throw new ValidationError([{ field: 'projection', reason: 'must name a projection (leave it out for every one)' }]);
  const status = args.status === 'ALL' ? 'all' : ((args.status ?? 'PENDING').toLowerCase() as DeadLetterStatus);
  const letters = await listDeadLetters(store, {
    ...(args.projection ? { projection: args.projection } : {}),
    status,
    limit: page.limit,
    ...(page.after === undefined ? {} : { after: page.after }),
  });
  return deadLetters.connection(letters, page, toDeadLetterNode);
}

