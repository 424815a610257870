/**
 * The admin part of the schema (issue 14, sections 2 and 6; docs/operations.md): where
 * projections stand, rebuilds, dead letters (list, retry, skip), resuming stopped
 * partitions, the log itself (`stream(id)`, `events(...)`) for audit and debugging, the
 * service's outboxes (status; parked messages: list, retry, skip), and the erasure of a
 * data subject's personal data (`forgetSubject`, `erasure`). Every root field needs a
 * bearer token with the `admin` role; what lies under them (a stream's events, a dead
 * letter's event) is reached only through them.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { UnknownProjectionError, ValidationError } from '../../errors.js';
import type { EventStore } from '../../event-store/event-store.js';
import { graphqlPart, type GraphQLPart } from '../../graphql/graphql-part.js';
import type { ConnectionArgs } from '../../graphql/connection.js';
import type { LoaderQuery } from '../../graphql/connection-loader.js';
import type { AnyProjection } from '../../projections/define-projection.js';
import { retryDeadLetter, skipDeadLetter } from '../../projections/dead-letters.js';
import { parseInput } from '../../validation.js';
import { requireRole, Roles, type Principal } from '../principal.js';
import { adminTypeDefs } from './admin-type-defs.js';
import { readDeadLettersPage, toDeadLetterNode, type DeadLetterNode, type DeadLettersArgs } from './dead-letters-admin.js';
import { jsonScalar } from './json-scalar.js';
import { loadParkedEvents, readOutboxStatus, readParkedMessagesPage, releaseParkedMessage, type ParkedMessageNode, type ParkedMessagesArgs } from './outbox-admin.js';
import { outboxTypeDefs } from './outbox-type-defs.js';
import { readEventsPage, readStreamEventsPage, readStreamNode, toLogEventNode, type EventsArgs, type LogEventNode, type StreamNode } from './log-admin.js';
import { forgetSubject, readErasureReport, type ErasureArgs } from './privacy-admin.js';
import { readProjectionsReport, rebuildProjection, resumeStoppedPartitions } from './projections-admin.js';
import { outboxesOf } from './service-outboxes.js';

export interface AdminGraphQLOptions {
  /**
   * The projections whose code this service has: those it can rebuild and whose dead
   * letters it can retry. Every projection set up in the store is reported, these or not.
   */
  projections: readonly AnyProjection[];
}

/** What an admin resolver needs of the context: the service's context has it. */
interface AdminContext {
  readonly store: EventStore;
  readonly principal?: Principal | undefined;
  /** mercurius' own: the service's outboxes are read from it. */
  readonly app?: FastifyInstance;
}

type Resolver<Args, Result> = (root: unknown, args: Args, context: AdminContext) => Promise<Result>;

/** A root field for admins only: the role is checked before anything else, the arguments included. */
const admin =
  <Args, Result>(resolve: Resolver<Args, Result>): Resolver<Args, Result> =>
  async (root, args, context) => {
    requireRole(context, Roles.admin);
    return resolve(root, args, context);
  };

const optionsSchema = z.strictObject({
  projections: z
    .array(
      z.custom<AnyProjection>(
        (value) => typeof value === 'object' && value !== null && typeof (value as AnyProjection).name === 'string' && typeof (value as AnyProjection).version === 'number',
        { error: 'must be a projection (defineProjection)' },
      ),
    )
    .refine((list) => new Set(list.map((p) => p.name)).size === list.length, { error: 'names a projection twice' }),
});

/**
 * The admin part, to compose with the rest of the schema. Its outbox fields report on,
 * and act on, the service's own `outboxes` option (createService).
 *
 * @throws ValidationError naming the option (`options.projections[0]`).
 *
 * @example
 * ```ts
 * const service = await createService({
 *   store,
 *   ...composeSchema([likeMutations, likeCountsGraphQL, adminGraphQL({ projections: [likeCounts, userLikes] })]),
 * });
 * // POST /graphql with Authorization: Bearer <an admin key>
 * // { projections { projections { name live { lag } pendingDeadLetters } } }
 * ```
 */
export function adminGraphQL(options: AdminGraphQLOptions): GraphQLPart {
  const { projections } = parseInput(optionsSchema, options, 'options');
  return graphqlPart({
    name: 'admin',
    typeDefs: [adminTypeDefs, outboxTypeDefs].join('\n\n'),
    resolvers: {
      JSON: jsonScalar,
      Query: {
        projections: admin((_root, _args: unknown, { store }) => readProjectionsReport(store, projections)),
        deadLetters: admin((_root, args: DeadLettersArgs, { store }) => readDeadLettersPage(store, args)),
        stream: admin((_root, { id }: { id: string }, { store }) => readStreamNode(store, id)),
        events: admin((_root, args: EventsArgs, { store }) => readEventsPage(store, args)),
        outboxStatus: admin((_root, _args: unknown, { store, app }) => readOutboxStatus(store, outboxesOf(app))),
        parkedMessages: admin((_root, args: ParkedMessagesArgs, { store, app }) => readParkedMessagesPage(store, outboxesOf(app), args)),
        erasure: admin((_root, args: ErasureArgs, { store }) => readErasureReport(store, projections, args)),
      },
      Mutation: {
        rebuildProjection: admin((_root, args: { name: string; from?: string | null; acceptRemovedHistory?: boolean | null }, { store }) => rebuildProjection(store, projections, args)),
        retryDeadLetter: admin(async (_root, { id }: { id: string }, { store }) => {
          try {
            return toDeadLetterNode(await retryDeadLetter(store, projections, id));
          } catch (error) {
            // Only a projection this service has the code of can apply the event again.
            if (!(error instanceof UnknownProjectionError)) throw error;
            const known = projections.map((p) => p.name).join(', ') || 'none';
            throw new ValidationError([
              { field: 'id', reason: `is a dead letter of projection '${error.projection}', whose code this service does not have to retry it with (it has: ${known})` },
            ]);
          }
        }),
        skipDeadLetter: admin(async (_root, { id }: { id: string }, { store }) => toDeadLetterNode(await skipDeadLetter(store, id))),
        resumeProjection: admin((_root, { name }: { name: string }, { store }) => resumeStoppedPartitions(store, name)),
        retryParkedMessage: admin((_root, args: { outbox: string; id: string }, { store, app }) => releaseParkedMessage(store, outboxesOf(app), args, 'retry')),
        skipParkedMessage: admin((_root, args: { outbox: string; id: string }, { store, app }) => releaseParkedMessage(store, outboxesOf(app), args, 'skip')),
        forgetSubject: admin((_root, { subject }: { subject: string }, { store }) => forgetSubject(store, projections, subject)),
      },
      Stream: {
        events: (stream: StreamNode, args: ConnectionArgs, { store }: AdminContext) => readStreamEventsPage(store, stream, args),
      },
    },
    loaders: {
      DeadLetter: {
        // The events of a page of dead letters in one read.
        event: async (queries: readonly LoaderQuery<DeadLetterNode, unknown>[], { store }: AdminContext): Promise<(LogEventNode | null)[]> => {
          const events = new Map((await store.readEventsById([...new Set(queries.map((query) => query.obj.eventId))])).map((event) => [event.id, event]));
          return queries.map((query) => {
            const event = events.get(query.obj.eventId);
            return event ? toLogEventNode(event) : null;
          });
        },
      },
      ParkedMessage: {
        event: (queries: readonly LoaderQuery<ParkedMessageNode, unknown>[], { store }: AdminContext) => loadParkedEvents(store, queries),
      },
    },
  });
}
