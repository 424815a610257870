import { describe, expect, it } from 'vitest';
import { admin, adminService, ask, dataOf } from './support/admin-service.js';

const service = await adminService('admin_log');
const { store } = service;

const eventsQuery = `query ($first: Int, $after: String, $afterPosition: String, $categories: [String!], $types: [String!]) {
  events(first: $first, after: $after, afterPosition: $afterPosition, categories: $categories, types: $types) {
    edges { cursor node { position id streamId version type schemaVersion data metadata recordedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface EventNode {
  position: string;
  id: string;
  streamId: string;
  version: number;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recordedAt: string;
}
interface EventsPage {
  events: { edges: { cursor: string; node: EventNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

/** Every event the filter selects, read page by page with cursors. */
async function readAllPages(url: string, variables: Record<string, unknown>, first: number): Promise<EventNode[]> {
  const nodes: EventNode[] = [];
  let after: string | null = null;
  for (;;) {
    const page: EventsPage = dataOf<EventsPage>(await ask(url, eventsQuery, { ...variables, first, after }));
    expect(page.events.edges.length).toBeLessThanOrEqual(first);
    nodes.push(...page.events.edges.map((edge) => edge.node));
    if (!page.events.pageInfo.hasNextPage) return nodes;
    after = page.events.pageInfo.endCursor;
  }
}

const positionsOf = (nodes: readonly EventNode[]) => nodes.map((node) => BigInt(node.position));
const increasing = (positions: readonly bigint[]) => positions.every((position, i) => i === 0 || position > positions[i - 1]!);

describe('events(...): the log, page by page', () => {
  it('pages through every event in position order, with filters on categories and types', async () => {
    for (let i = 0; i < 7; i++) {
      await store.appendToStream(`audit_a-${i}`, [{ type: 'Opened', data: { i } }, { type: 'Noted', data: { i } }]);
      await store.appendToStream(`audit_b-${i}`, [{ type: 'Opened', data: { i } }]);
    }
    const url = await service.startAs(admin);
    const everything = await readAllPages(url, { categories: ['audit_a', 'audit_b'] }, 4);
    expect(everything).toHaveLength(21);
    expect(increasing(positionsOf(everything))).toBe(true);
    const expected = await store.readAll({ categories: ['audit_a', 'audit_b'] });
    expect(everything.map((node) => node.id)).toEqual(expected.map((event) => event.id));
    expect(everything[0]).toEqual({
      position: expected[0]!.globalPosition.toString(),
      id: expected[0]!.id,
      streamId: 'audit_a-0',
      version: 1,
      type: 'Opened',
      schemaVersion: 1,
      data: { i: 0 },
      metadata: {},
      recordedAt: expected[0]!.recordedAt.toISOString(),
    });

    const opened = await readAllPages(url, { categories: ['audit_b'], types: ['Opened'] }, 3);
    expect(opened.map((node) => node.streamId)).toEqual(Array.from({ length: 7 }, (_, i) => `audit_b-${i}`));
    const noted = await readAllPages(url, { types: ['Noted'], categories: ['audit_a'] }, 100);
    expect(noted.every((node) => node.type === 'Noted')).toBe(true);
    expect(noted).toHaveLength(7);

    // afterPosition: from a position the client holds (a mutation's, say).
    const fourth = everything[3]!;
    const fromThere = await ask(url, eventsQuery, { categories: ['audit_a', 'audit_b'], afterPosition: fourth.position, first: 2 });
    expect(dataOf<EventsPage>(fromThere).events.edges.map((edge) => edge.node.id)).toEqual([everything[4]!.id, everything[5]!.id]);
  });

  it('while writers append concurrently, a reader paging through the log sees each event once, in order, and none missing', async () => {
    const url = await service.startAs(admin);
    const writers = Array.from({ length: 5 }, async (_, writer) => {
      for (let i = 0; i < 12; i++) await store.appendToStream(`race-${writer}`, [{ type: 'Counted', data: { writer, i } }]);
    });
    const seen: EventNode[] = [];
    let after: string | null = null;
    let writing = true;
    const done = Promise.all(writers).then(() => (writing = false));
    // Page until the writers are done and the last page has come back empty.
    for (;;) {
      const stillWriting = writing;
      const page: EventsPage = dataOf<EventsPage>(await ask(url, eventsQuery, { categories: ['race'], first: 7, after }));
      seen.push(...page.events.edges.map((edge) => edge.node));
      after = page.events.pageInfo.endCursor ?? after;
      if (!stillWriting && !page.events.pageInfo.hasNextPage) break;
    }
    await done;
    expect(increasing(positionsOf(seen))).toBe(true);
    expect(new Set(seen.map((node) => node.id)).size).toBe(seen.length);
    expect(seen).toHaveLength(60);
    expect(seen.map((node) => node.id)).toEqual((await store.readAll({ categories: ['race'] })).map((event) => event.id));
  });

  it('refuses bad input with BAD_USER_INPUT naming the argument', async () => {
    const url = await service.startAs(admin);
    const cursor = dataOf<EventsPage>(await ask(url, eventsQuery, { first: 1 })).events.pageInfo.endCursor;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ first: 0 }, 'first', /from 1 to 100/],
      [{ first: 101 }, 'first', /from 1 to 100/],
      [{ after: 'abc' }, 'after', /not a cursor/],
      [{ afterPosition: 'twelve' }, 'afterPosition', /string of digits/],
      [{ afterPosition: '1', after: cursor }, 'afterPosition', /not both/],
      [{ types: [''] }, 'types[0]', /empty/],
      [{ categories: ['post', ' padded '] }, 'categories[1]', /white space/],
      [{ categories: Array.from({ length: 101 }, (_, i) => `c${i}`) }, 'categories', /at most 100/],
    ];
    for (const [variables, field, reason] of cases) {
      const answer = await ask(url, eventsQuery, variables);
      expect(answer.errors?.[0], JSON.stringify(variables).slice(0, 80)).toMatchObject({
        path: ['events'],
        extensions: { code: 'BAD_USER_INPUT', issues: [{ field, reason: expect.stringMatching(reason) }] },
      });
    }
    // A cursor of another list is not one of this list.
    const streamCursor = await ask(url, `{ stream(id: "audit_a-0") { events(first: 1) { pageInfo { endCursor } } } }`);
    const foreign = (dataOf<{ stream: { events: { pageInfo: { endCursor: string } } } }>(streamCursor)).stream.events.pageInfo.endCursor;
    const mixed = await ask(url, eventsQuery, { after: foreign });
    expect(mixed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ field: 'after' }] });
  });
});

describe('stream(id)', () => {
  const streamQuery = `query ($id: ID!, $first: Int, $after: String) {
    stream(id: $id) {
      id category version truncateBefore historyStart deleted deletedAt createdAt updatedAt
      events(first: $first, after: $after) { edges { node { version type data } } pageInfo { hasNextPage endCursor } }
    }
  }`;
  interface StreamAnswer {
    stream: {
      id: string;
      version: number;
      deleted: boolean;
      events: { edges: { node: { version: number; type: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    } | null;
  }

  it("shows the stream's state and its events, page by page; null for a stream never appended to", async () => {
    await store.appendToStream('ledger-1', Array.from({ length: 5 }, (_, i) => ({ type: 'Entered', data: { i } })));
    const url = await service.startAs(admin);
    const first = dataOf<StreamAnswer>(await ask(url, streamQuery, { id: 'ledger-1', first: 3 }));
    expect(first.stream).toMatchObject({ id: 'ledger-1', category: 'ledger', version: 5, truncateBefore: 0, historyStart: 1, deleted: false, deletedAt: null });
    expect(first.stream!.events.edges.map((edge) => edge.node.version)).toEqual([1, 2, 3]);
    expect(first.stream!.events.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf<StreamAnswer>(await ask(url, streamQuery, { id: 'ledger-1', first: 3, after: first.stream!.events.pageInfo.endCursor }));
    expect(rest.stream!.events.edges.map((edge) => edge.node.version)).toEqual([4, 5]);
    expect(rest.stream!.events.pageInfo.hasNextPage).toBe(false);

    expect(dataOf(await ask(url, streamQuery, { id: 'ledger-none' }))).toEqual({ stream: null });
  });

  it("a deleted stream shows as deleted; its events field answers the store's ANNALS_STREAM_DELETED", async () => {
    await store.appendToStream('ledger-2', [{ type: 'Entered', data: {} }]);
    await store.deleteStream('ledger-2');
    const url = await service.startAs(admin);
    const answer = await ask(url, streamQuery, { id: 'ledger-2' });
    expect(answer.errors?.[0]).toMatchObject({ path: ['stream', 'events'], extensions: { code: 'ANNALS_STREAM_DELETED' } });
    // events is non-null, so the error nulls the stream it belongs to; its state is there without events.
    const state = await ask(url, `{ stream(id: "ledger-2") { deleted deletedAt } }`);
    expect(dataOf(state)).toEqual({ stream: { deleted: true, deletedAt: expect.any(String) } });
  });

  it('refuses an id that is not a stream id, naming it', async () => {
    const url = await service.startAs(admin);
    const answer = await ask(url, streamQuery, { id: '' });
    expect(answer.errors?.[0]).toMatchObject({ path: ['stream'], extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'id' }] } });
  });
});

describe("a mutation's events carry its request's ids, as the admin schema shows them", () => {
  const likePost = `mutation ($postId: ID!) { likePost(postId: $postId, userId: "ada") { streamId } }`;
  const metadataOf = async (url: string, streamId: string) =>
    dataOf<{ stream: { events: { edges: { node: { metadata: Record<string, unknown> } }[] } } }>(
      await ask(url, `query ($id: ID!) { stream(id: $id) { events { edges { node { metadata } } } } }`, { id: streamId }),
    ).stream.events.edges.map((edge) => edge.node.metadata);

  it("without x-correlation-id: the request id is both the correlation id and the causation id", async () => {
    const url = await service.startAs(admin);
    const answer = await ask(url, likePost, { postId: 'c1' });
    const requestId = answer.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await metadataOf(url, 'post-c1')).toEqual([expect.objectContaining({ correlationId: requestId, causationId: requestId })]);
  });

  it("with x-correlation-id: the caller's correlation id, and this request as the cause", async () => {
    const url = await service.startAs(admin);
    const answer = await ask(url, likePost, { postId: 'c2' }, { 'x-correlation-id': 'checkout-9' });
    const requestId = answer.headers.get('x-request-id');
    expect(await metadataOf(url, 'post-c2')).toEqual([expect.objectContaining({ correlationId: 'checkout-9', causationId: requestId })]);
  });
});
