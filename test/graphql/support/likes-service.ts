/**
 * The likes domain served over GraphQL for the tests of test/graphql: a store in a schema
 * of its own, on a pg.Pool whose statements can be counted, the composed schema of the
 * likes mutations and the likes projections' parts, and the projections to catch up.
 */
import pg from 'pg';
import { afterAll } from 'vitest';
import { catchUpProjections, createEventStore, type AnyProjection, type EventStore } from '../../../src/index.js';
import { composeSchema, type ComposedSchema } from '../../../src/graphql/compose-schema.js';
import type { GraphQLPart } from '../../../src/graphql/graphql-part.js';
import { likeMutations } from '../../../domain/likes/likes.graphql.js';
import { likeCountsGraphQL } from '../../../projections/like-counts/like-counts.graphql.js';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';
import { notificationsGraphQL } from '../../../projections/notifications/notifications.graphql.js';
import { notificationsProjection, type LikeNotification } from '../../../projections/notifications/notifications.projection.js';
import { userLikesGraphQL } from '../../../projections/user-likes/user-likes.graphql.js';
import { userLikes } from '../../../projections/user-likes/user-likes.projection.js';
import { postGraphQL, startService, type GraphQLAnswer } from '../../server/support/http.js';
import { testDatabaseUrl, useTestSchema } from '../../setup/database.js';

/**
 * Every statement the store's pool sends while `counting`: the texts, as Postgres gets
 * them. Counted where pg hands them to the connection (each client's `query`), so
 * kysely's, the store's and transactions' BEGIN and COMMIT are all in it.
 */
export class StatementLog {
  counting = false;
  readonly texts: string[] = [];

  /** Runs `work` and returns the statements it sent. */
  async during(work: () => Promise<unknown>): Promise<string[]> {
    this.texts.length = 0;
    this.counting = true;
    try {
      await work();
    } finally {
      this.counting = false;
    }
    return [...this.texts];
  }

  attach(pool: pg.Pool): void {
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        if (this.counting) {
          const [config] = args;
          this.texts.push(typeof config === 'string' ? config : String((config as { text?: unknown }).text));
        }
        return query(...args);
      };
    });
  }
}

export interface LikesService {
  store: EventStore;
  statements: StatementLog;
  /** The projections the parts read: catch them up before querying. */
  projections: AnyProjection[];
  sent: LikeNotification[];
  composed: ComposedSchema;
  /** A listening service on port 0, closed when the test ends (call it in a test). */
  start(): Promise<string>;
  catchUp(): Promise<void>;
}

/**
 * A migrated store in a schema of the test file's own, on a pool of `max` connections
 * whose statements `statements` counts; closed after the file. Call at the top level.
 */
export async function countedStore(prefix: string, max: number): Promise<{ store: EventStore; statements: StatementLog }> {
  const { schema } = useTestSchema(prefix);
  const statements = new StatementLog();
  const pool = new pg.Pool({ connectionString: testDatabaseUrl, max, connectionTimeoutMillis: 30_000 });
  statements.attach(pool);
  const store = createEventStore(pool, { schema });
  afterAll(async () => {
    await store.close();
    await pool.end();
  });
  await store.migrate();
  return { store, statements };
}

/** Call at the top level of a test file: it registers the file's clean-up hooks. */
export async function likesService(prefix: string, extra: { parts?: GraphQLPart[]; projections?: AnyProjection[] } = {}): Promise<LikesService> {
  const { store, statements } = await countedStore(prefix, 10);
  const sent: LikeNotification[] = [];
  const notifications = notificationsProjection({ send: async (notification) => void sent.push(notification) });
  const projections = [likeCounts, userLikes, notifications, ...(extra.projections ?? [])];
  const composed = composeSchema([likeMutations, likeCountsGraphQL, userLikesGraphQL, notificationsGraphQL(notifications), ...(extra.parts ?? [])]);
  return {
    store,
    statements,
    projections,
    sent,
    composed,
    start: async () => (await startService({ store, ...composed })).url,
    catchUp: () => catchUpProjections(store, projections),
  };
}

/** POSTs a query with its variables; the answer's body. */
export async function graphql(url: string, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLAnswer & { status: number }> {
  const answer = await postGraphQL(url, { query, variables });
  return { status: answer.status, ...answer.body };
}
