import { afterAll, describe, expect, it } from 'vitest';
import { catchUpProjections, createEventStore } from '../../../src/index.js';
import { composeSchema } from '../../../src/graphql/compose-schema.js';
import { adminGraphQL } from '../../../src/server/admin/admin-graphql.js';
import { likeMutations } from '../../../domain/likes/likes.graphql.js';
import { likeCountsGraphQL } from '../../../projections/like-counts/like-counts.graphql.js';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';
import { startService } from '../../server/support/http.js';
import { scrape, valueOf } from '../../server/metrics/support/scrape.js';
import { admin, ask, dataOf } from './support/admin-service.js';

// What `npm start` runs on without DATABASE_URL: the embedded PGlite.
const store = createEventStore({ pglite: 'memory://' });
afterAll(() => store.close());

describe('metrics and the admin schema on PGlite', () => {
  it('serve the lag, the projections and the log', { timeout: 180_000 }, async () => {
    await store.migrate();
    const { url } = await startService({
      store,
      ...composeSchema([likeMutations, likeCountsGraphQL, adminGraphQL({ projections: [likeCounts] })]),
      context: () => ({ principal: admin }),
      metrics: { projections: [likeCounts], storeFiguresMaxAgeMs: 0 },
      limits: { requestTimeoutMs: 120_000 },
    });
    await catchUpProjections(store, [likeCounts]);
    const liked = await ask(url, `mutation { likePost(postId: "p1", userId: "ada") { position } }`);
    const { position } = dataOf<{ likePost: { position: string } }>(liked).likePost;

    const metrics = await scrape(url);
    expect(valueOf(metrics, 'annals_projection_lag_events', { projection: 'like-counts', status: 'live' })).toBe(1);
    expect(valueOf(metrics, 'annals_log_head_position')).toBe(Number(position));
    expect(valueOf(metrics, 'annals_graphql_operation_duration_seconds_count', { operation_type: 'mutation' })).toBe(1);

    const report = await ask(url, `{ projections { head projections { name live { lag } } } }`);
    expect(dataOf(report)).toEqual({ projections: { head: position, projections: [{ name: 'like-counts', live: { lag: 1 } }] } });
    const events = await ask(url, `{ events(categories: ["post"]) { edges { node { position streamId type } } } }`);
    expect(dataOf(events)).toEqual({ events: { edges: [{ node: { position, streamId: 'post-p1', type: 'LikeCreated' } }] } });
  });
});
