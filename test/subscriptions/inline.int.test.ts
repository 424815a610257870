/**
 * Subscriptions of a projection applied inline (withInlineProjections): its rows are
 * written by each append's transaction and no checkpoint moves, yet subscribers get every
 * change at its position, exact, in order, across reconnections and API processes, and
 * never a row ahead of its position while an older appender is still open.
 */
import { expect, it } from 'vitest';
import { readSchemaOf, withInlineProjections, type EventStore } from '../../src/index.js';
import { composeSchema } from '../../src/graphql/compose-schema.js';
import { eventually } from '../setup/eventually.js';
import { wsClient, type Pushes } from './support/ws-client.js';
import { testbed, unique } from './support/testbed.js';
import { health, tally, tallySubscription, talliesProjection, talliesSubscription, type Tallies, type TallyPush } from './support/tallies.js';

const bed = await testbed('sub_inline');

/** An inline projection, live and applied inline, its workers running (they build it and apply what it owes); its inline store. */
async function inlineProjection(version = 1): Promise<{ projection: Tallies; store: EventStore }> {
  const projection = talliesProjection(unique('inline-tallies'), version);
  await bed.runWorkers([projection], { inline: [projection.name], pollIntervalMs: 100 });
  const store = withInlineProjections(bed.store, [projection]);
  // The first inline append sets the projection up (and marks it applied inline).
  await tally(store, projection.name, unique('first'));
  await eventually(async () => expect(await liveGeneration(projection.name)).toMatchObject({ applied_inline: true }), 20_000);
  return { projection, store };
}

async function liveGeneration(name: string): Promise<{ version: number; applied_inline: boolean } | undefined> {
  const [row] = await bed.store.withTransaction((tx) =>
    tx.query<{ version: number; applied_inline: boolean }>(
      `SELECT version, applied_inline FROM "${bed.store.schema}".projection_generations WHERE projection = $1 AND status = 'live'`,
      [name],
    ),
  );
  return row;
}

async function readModelCount(projection: Tallies, key: string): Promise<number> {
  const [row] = await bed.store.withTransaction((tx) =>
    tx.query<{ count: number }>(`SELECT count FROM "${readSchemaOf(bed.store.schema, projection)}".tallies WHERE key = $1`, [key]),
  );
  return row?.count ?? 0;
}

const pushesOf = (subscription: Pushes<TallyPush>) => subscription.values.map(({ tally: t }) => ({ position: BigInt(t.position), count: t.count }));

/** Positions strictly increase, and each count is exactly the tallies at or below its position. */
function expectExactAndIncreasing(subscription: Pushes<TallyPush>, talliedAt: readonly bigint[]): void {
  const pushes = pushesOf(subscription);
  for (let i = 1; i < pushes.length; i++) expect(pushes[i]!.position > pushes[i - 1]!.position).toBe(true);
  for (const { position, count } of pushes) expect(count).toBe(talliedAt.filter((at) => at <= position).length);
}

it('pushes each change of an inline projection, at its position, with no checkpoint moving', async () => {
  const { projection, store } = await inlineProjection();
  const { url } = await bed.startService({ store, ...composeSchema([health, talliesSubscription(projection)]) });
  const key = unique('k');
  const subscription = wsClient(url).subscribe<TallyPush>(tallySubscription, { k: key });
  await subscription.waitFor((values) => values.length === 1, 'the row now');
  expect(subscription.values[0]!.tally.count).toBe(0);
  const talliedAt: bigint[] = [];
  for (let i = 1; i <= 4; i++) {
    talliedAt.push(await tally(store, projection.name, key));
    await subscription.waitFor((values) => values.at(-1)?.tally.count === i, `${i} tallies`);
  }
  expect(pushesOf(subscription).slice(1)).toEqual(talliedAt.map((position, i) => ({ position, count: i + 1 })));
  expectExactAndIncreasing(subscription, talliedAt);
});

it('under concurrent appenders, some holding their transaction open, pushes rows never ahead of their position, and ends on the read model', async () => {
  const { projection, store } = await inlineProjection();
  const { url } = await bed.startService({ store, ...composeSchema([health, talliesSubscription(projection)]) });
  const key = unique('k');
  const subscription = wsClient(url).subscribe<TallyPush>(tallySubscription, { k: key });
  await subscription.waitFor((values) => values.length === 1, 'the row now');
  const category = projection.name.replaceAll('-', '_');
  const talliedAt: bigint[] = [];
  // Half the tallies come from transactions that first append elsewhere (their positions
  // are fixed then), wait, then tally the key: newer transactions commit tallies of the key
  // meanwhile, above the readers' head, and the rows read hold them.
  const writers = Array.from({ length: 4 }, async (_, writer) => {
    for (let i = 0; i < 6; i++) {
      if ((writer + i) % 2 === 0) {
        talliedAt.push(await tally(store, projection.name, key));
        continue;
      }
      const at = await store.withTransaction(async (tx) => {
        await tx.appendToStream(`${category}-${unique('o')}`, [{ type: 'Tallied', data: { key: unique('other') } }]);
        await new Promise((resolve) => setTimeout(resolve, 10 + 15 * writer));
        return (await tx.appendToStream(`${category}-${unique('t')}`, [{ type: 'Tallied', data: { key } }])).lastGlobalPosition;
      });
      talliedAt.push(at);
    }
  });
  await Promise.all(writers);
  const total = talliedAt.length;
  await subscription.waitFor((values) => values.at(-1)?.tally.count === total, `all ${total} tallies`);
  expectExactAndIncreasing(subscription, talliedAt);
  const last = pushesOf(subscription).at(-1)!;
  expect(last.position).toBe(talliedAt.reduce((high, at) => (at > high ? at : high)));
  expect(await readModelCount(projection, key)).toBe(last.count);
});

it('given the last position received, sends what was missed, then live changes: nothing twice, nothing lost', async () => {
  const { projection, store } = await inlineProjection();
  const { url } = await bed.startService({ store, ...composeSchema([health, talliesSubscription(projection)]) });
  const key = unique('k');
  const first = wsClient(url);
  const before = first.subscribe<TallyPush>(tallySubscription, { k: key });
  await before.waitFor((values) => values.length === 1, 'the row now');
  const talliedAt = [await tally(store, projection.name, key), await tally(store, projection.name, key)];
  await before.waitFor((values) => values.at(-1)?.tally.count === 2, '2 tallies');
  const last = before.values.at(-1)!.tally.position;
  await first.close();

  for (let i = 0; i < 3; i++) talliedAt.push(await tally(store, projection.name, key));
  await tally(store, projection.name, unique('other'));
  const again = wsClient(url).subscribe<TallyPush>(tallySubscription, { k: key, a: last });
  await again.waitFor((values) => values.length === 1, 'what was missed');
  expect(again.values[0]!.tally).toEqual({ key, count: 5, position: talliedAt[4]!.toString() });
  talliedAt.push(await tally(store, projection.name, key));
  await again.waitFor((values) => values.at(-1)?.tally.count === 6, 'the live tally after');
  expect(pushesOf(again).every((push) => push.position > BigInt(last))).toBe(true);
  expect(pushesOf(again).map((push) => push.count)).toEqual([5, 6]);
  expectExactAndIncreasing(again, talliedAt);
});

it('pushes to the subscribers of another API process, whose store is not even wrapped: the generation says it is applied inline', async () => {
  const { projection, store } = await inlineProjection();
  const parts = composeSchema([health, talliesSubscription(projection)]);
  const one = await bed.startService({ store, ...parts });
  const other = await bed.startService({ store: await bed.newStore(), ...parts });
  const key = unique('k');
  const here = wsClient(one.url).subscribe<TallyPush>(tallySubscription, { k: key });
  const there = wsClient(other.url).subscribe<TallyPush>(tallySubscription, { k: key });
  await here.waitFor((values) => values.length === 1, 'the row now, here');
  await there.waitFor((values) => values.length === 1, 'the row now, there');
  const talliedAt: bigint[] = [];
  for (let i = 1; i <= 3; i++) {
    talliedAt.push(await tally(store, projection.name, key));
    await there.waitFor((values) => values.at(-1)?.tally.count === i, `${i} tallies, there`);
  }
  await here.waitFor((values) => values.at(-1)?.tally.count === 3, '3 tallies, here');
  expect(pushesOf(there).slice(1)).toEqual(talliedAt.map((position, i) => ({ position, count: i + 1 })));
  expect(pushesOf(here).slice(1)).toEqual(pushesOf(there).slice(1));
});

it('holds a change appended by code of another version until the live version has applied it, then pushes it at its position', async () => {
  const { projection, store } = await inlineProjection();
  const { url } = await bed.startService({ store, ...composeSchema([health, talliesSubscription(projection)]) });
  const key = unique('k');
  const subscription = wsClient(url).subscribe<TallyPush>(tallySubscription, { k: key });
  await subscription.waitFor((values) => values.length === 1, 'the row now');
  const talliedAt = [await tally(store, projection.name, key)];
  await subscription.waitFor((values) => values.at(-1)?.tally.count === 1, 'the first tally');

  // Code of the next version (a rolling deploy, no worker of it yet) cannot write version
  // 1's tables: it records what they owe, which version 1's workers apply.
  const next = withInlineProjections(bed.store, [talliesProjection(projection.name, 2)]);
  talliedAt.push(await tally(next, projection.name, key));
  await subscription.waitFor((values) => values.at(-1)?.tally.count === 2, 'the owed tally, once applied');
  expect(pushesOf(subscription).at(-1)).toEqual({ position: talliedAt[1], count: 2 });
  talliedAt.push(await tally(store, projection.name, key));
  await subscription.waitFor((values) => values.at(-1)?.tally.count === 3, 'the tally after');
  expectExactAndIncreasing(subscription, talliedAt);
  expect(await liveGeneration(projection.name)).toMatchObject({ version: 1 });
});

it('carries on through a rebuild of an inline projection: the new generation’s rows from its switch on, nothing twice, nothing lost', async () => {
  const { projection: v1, store } = await inlineProjection();
  const { url } = await bed.startService({ store, ...composeSchema([health, talliesSubscription(v1)]) });
  const key = unique('k');
  const subscription = wsClient(url).subscribe<TallyPush>(tallySubscription, { k: key });
  await subscription.waitFor((values) => values.length === 1, 'the row now');
  const talliedAt = [await tally(store, v1.name, key), await tally(store, v1.name, key)];
  await subscription.waitFor((values) => values.at(-1)?.tally.count === 2, 'the 2 tallies of version 1');

  // Version 2 counts each tally as 10. Its code and workers come up (a deploy): they build
  // its generation, switch to it, and its appenders write it from then on.
  const v2 = talliesProjection(v1.name, 2, 10);
  await bed.runWorkers([v2], { inline: [v2.name], pollIntervalMs: 100 });
  const next = withInlineProjections(bed.store, [v2]);
  await tally(next, v2.name, unique('other'));
  await eventually(async () => expect(await liveGeneration(v2.name)).toEqual({ version: 2, applied_inline: true }), 20_000);
  await subscription.waitFor((values) => values.at(-1)?.tally.count === 20, 'the row of the new tables at the switch');
  talliedAt.push(await tally(next, v2.name, key));
  await subscription.waitFor((values) => values.at(-1)?.tally.count === 30, 'the tally after the switch');

  const pushes = pushesOf(subscription);
  for (let i = 1; i < pushes.length; i++) expect(pushes[i]!.position > pushes[i - 1]!.position).toBe(true);
  const counts = pushes.map((push) => push.count);
  expect(counts.slice(counts.indexOf(20))).toEqual([20, 30]);
  expect(pushes.at(-1)!.position).toBe(talliedAt[2]);
});
