import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError, type EventStore } from '../../src/index.js';
import { checkServiceOptions } from '../../src/server/service-options.js';
import { projectionSubscription } from '../../src/server/subscriptions/projection-subscription.js';
import { SubscriberQueue } from '../../src/server/subscriptions/subscriber-queue.js';
import { subscriptionOptions, type SubscriptionOptions } from '../../src/server/subscriptions/subscription-options.js';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';

const definition = {
  name: 'likes-subscriptions',
  typeDefs: 'type Update { likes: Int! position: String! } extend type Subscription { postLikes(postId: ID!, after: String): Update! }',
  field: 'postLikes',
  projection: likeCounts,
  args: z.object({ postId: z.string() }),
  key: (args: { postId: string }) => args.postId,
  keyOf: (event: { data: { postId: string } }) => event.data.postId,
  read: async () => [] as { post_id: string; likes: number }[],
  rowKey: (row: { post_id: string }) => row.post_id,
  payload: ({ row, position }: { row: { likes: number } | undefined; position: string }) => ({ likes: row?.likes ?? 0, position }),
};

function issuesOf(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
}

describe('projectionSubscription', () => {
  it('makes a part resolving the field with subscribe', () => {
    const part = projectionSubscription(definition);
    expect(part.name).toBe('likes-subscriptions');
    expect(Object.keys((part.resolvers as { Subscription: Record<string, unknown> }).Subscription.postLikes as object)).toEqual(['subscribe', 'resolve']);
  });

  it('refuses typeDefs without the field, or without after: String, naming the part', () => {
    expect(issuesOf(() => projectionSubscription({ ...definition, field: 'postShares' }))).toEqual([
      { field: 'part(likes-subscriptions).typeDefs', reason: expect.stringMatching(/declares no field postShares on Subscription/) },
    ]);
    const noAfter = 'type Update { likes: Int! } extend type Subscription { postLikes(postId: ID!): Update! }';
    expect(issuesOf(() => projectionSubscription({ ...definition, typeDefs: noAfter }))).toEqual([
      { field: 'part(likes-subscriptions).typeDefs', reason: 'Subscription.postLikes must take after: String (the position a reconnecting client got last)' },
    ]);
    const intAfter = 'type Update { likes: Int! } extend type Subscription { postLikes(postId: ID!, after: Int): Update! }';
    expect(issuesOf(() => projectionSubscription({ ...definition, typeDefs: intAfter }))).toEqual([expect.objectContaining({ field: 'part(likes-subscriptions).typeDefs' })]);
  });

  it('refuses a definition that is not one, naming the field', () => {
    expect(issuesOf(() => projectionSubscription({ ...definition, args: { postId: 'string' } as never }))).toEqual([
      { field: 'part(likes-subscriptions).args', reason: 'must be a zod schema of the arguments' },
    ]);
    expect(issuesOf(() => projectionSubscription({ ...definition, keyOf: 'postId' as never }))).toEqual([
      { field: 'part(likes-subscriptions).keyOf', reason: 'must be a function' },
    ]);
    expect(issuesOf(() => projectionSubscription({ ...definition, typeDefs: 'extend type Subscription {' }))).toEqual([
      expect.objectContaining({ field: 'part(likes-subscriptions).typeDefs', reason: expect.stringMatching(/Syntax Error/) }),
    ]);
  });
});

describe('subscriptionOptions', () => {
  const store = { schema: 'annals', withTransaction: async () => undefined } as unknown as EventStore;
  const settings = checkServiceOptions({ store, schema: 'type Query { a: Int }' });
  const setup = (options: SubscriptionOptions | false | undefined) => subscriptionOptions({ store, options, settings, authenticate: async () => undefined });

  it('turns subscriptions off with false, and on by default, pinging every 30 s', () => {
    expect(setup(false)).toBe(false);
    expect(setup(undefined)).toEqual(expect.objectContaining({ keepAlive: 30_000, context: expect.any(Function), onConnect: expect.any(Function) }));
    expect(setup({ keepAliveMs: 0 })).not.toHaveProperty('keepAlive');
  });

  it('refuses options out of range, naming them', () => {
    expect(issuesOf(() => setup({ maxQueuedMessages: 0 }))).toEqual([{ field: 'options.subscriptions.maxQueuedMessages', reason: expect.stringMatching(/>=1/) }]);
    expect(issuesOf(() => setup({ maxSubscriptionsPerConnection: 1.5 }))).toEqual([expect.objectContaining({ field: 'options.subscriptions.maxSubscriptionsPerConnection' })]);
    expect(issuesOf(() => setup({ maxQueued: 5 } as SubscriptionOptions))).toEqual([expect.objectContaining({ reason: expect.stringMatching(/maxQueued/) })]);
  });

  it("refuses a connection_init authorization that is not a string, on the connection's subscriptions", async () => {
    const options = setup(undefined) as { onConnect: (message: { payload: unknown }) => Promise<Record<PropertyKey, unknown>> };
    const refused = await options.onConnect({ payload: { authorization: 42 } });
    expect(refused.principal).toBeUndefined();
    const [refusal] = Object.getOwnPropertySymbols(refused).map((key) => refused[key]);
    expect((refusal as ValidationError).issues).toEqual([{ field: 'connection_init.payload.authorization', reason: "must be a string: 'Bearer <token>'" }]);
    expect(await options.onConnect({ payload: null })).toEqual({ principal: undefined });
  });
});

describe('SubscriberQueue', () => {
  const queue = <T>(limit = 2) => {
    const calls = { overflow: [] as number[], ends: 0 };
    const made = new SubscriberQueue<T>({ limit, onOverflow: (waiting) => calls.overflow.push(waiting), onEnd: () => calls.ends++ });
    return { queue: made, calls };
  };

  it('hands values over in order, to a reader waiting or later', async () => {
    const { queue: q } = queue<number>();
    const waiting = q.next();
    q.push(1);
    q.push(2);
    expect(await waiting).toEqual({ value: 1, done: false });
    expect(await q.next()).toEqual({ value: 2, done: false });
  });

  it('ends, once, past its limit: the reader gets done, the owner the count', async () => {
    const { queue: q, calls } = queue<number>(2);
    q.push(1);
    q.push(2);
    q.push(3);
    q.push(4);
    expect(calls).toEqual({ overflow: [3], ends: 1 });
    expect(q.open).toBe(false);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('fails the reader waiting, or the next read, then ends', async () => {
    const { queue: waitingQueue, calls } = queue<number>();
    const waiting = waitingQueue.next();
    waitingQueue.fail(new Error('store closed'));
    await expect(waiting).rejects.toThrow('store closed');
    expect(calls.ends).toBe(1);
    const { queue: later } = queue<number>();
    later.push(1);
    later.fail(new Error('store closed'));
    await expect(later.next()).rejects.toThrow('store closed');
    expect(await later.next()).toEqual({ value: undefined, done: true });
  });

  it('ends once when the reader returns, whatever ends it again', async () => {
    const { queue: q, calls } = queue<number>();
    await q.return();
    q.end();
    q.fail(new Error('late'));
    q.push(1);
    expect(calls.ends).toBe(1);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });
});
