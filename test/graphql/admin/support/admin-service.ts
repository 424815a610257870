/**
 * The likes service with the admin part composed in, for the tests of test/graphql/admin:
 * started with a principal given through createService's `context` option (what the
 * security plugin proves from a bearer token), or with none.
 */
import type { AnyProjection } from '../../../../src/index.js';
import { adminGraphQL } from '../../../../src/server/admin/admin-graphql.js';
import type { Principal } from '../../../../src/server/principal.js';
import { likeCounts } from '../../../../projections/like-counts/like-counts.projection.js';
import { userLikes } from '../../../../projections/user-likes/user-likes.projection.js';
import { postGraphQL, startService, type GraphQLAnswer } from '../../../server/support/http.js';
import { likesService, type LikesService } from '../../support/likes-service.js';

export const admin: Principal = { subject: 'ops', roles: ['admin'], via: 'api-key' };
export const writer: Principal = { subject: 'shop', roles: ['writer'], via: 'api-key' };

export interface AdminService extends LikesService {
  /** A listening service whose requests carry `principal` (none: anonymous). */
  startAs(principal: Principal | undefined): Promise<string>;
}

/**
 * Call at the top level of a test file. The admin part has the code of the likes
 * projections and of `projections`; the notifications projection is left out of it, so
 * the service knows that one only from the database.
 */
export async function adminService(prefix: string, projections: AnyProjection[] = []): Promise<AdminService> {
  const part = adminGraphQL({ projections: [likeCounts, userLikes, ...projections] });
  // Not in likes.projections: catchUp() leaves them alone, each test sets them up itself.
  const likes = await likesService(prefix, { parts: [part] });
  return {
    ...likes,
    async startAs(principal) {
      const service = await startService({ store: likes.store, ...likes.composed, context: () => (principal ? { principal } : {}) });
      return service.url;
    },
  };
}

/** POSTs a query with its variables (and headers); the answer's body and status. */
export async function ask(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLAnswer & { status: number; headers: Headers }> {
  const answer = await postGraphQL(url, { query, variables }, headers);
  return { status: answer.status, headers: answer.headers, ...answer.body };
}

/** The data of an answer that must have no errors. */
export function dataOf<T = Record<string, unknown>>(answer: GraphQLAnswer): T {
  if (answer.errors !== undefined) throw new Error(`unexpected errors: ${JSON.stringify(answer.errors)}`);
  return answer.data as T;
}
