/**
 * Subscriptions of a projection of several partitions: keys of partitions that run keep
 * being pushed while another partition is stopped on a failure, and each row is pushed at
 * a position it is exactly as of (the key's changes at or below it, none later).
 */
import { describe, expect, it } from 'vitest';
import { projectionStatus } from '../../src/index.js';
import { composeSchema } from '../../src/graphql/compose-schema.js';
import { eventually } from '../setup/eventually.js';
import { wsClient, type Pushes } from './support/ws-client.js';
import { testbed, unique } from './support/testbed.js';
import { health, keysInOnePartition, keysInPartitions, tally, tallyOnPartition, tallySubscription, talliesProjection, talliesSubscription, type TallyPush } from './support/tallies.js';

const bed = await testbed('sub_parts');

const stopOnFailure = { onFailure: 'stop' as const, retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 2 }, pollIntervalMs: 100 };

async function setUp(partitionBy: 'key' | 'stream' = 'key') {
  const projection = talliesProjection(unique('tallies'), 1, 1, partitionBy);
  await bed.runWorkers([projection], stopOnFailure);
  const { url } = await bed.startService({ ...composeSchema([health, talliesSubscription(projection)]) });
  return { projection, url };
}

async function stopped(projection: ReturnType<typeof talliesProjection>): Promise<void> {
  await eventually(async () => {
    const { partitions } = await projectionStatus(bed.store, [projection]);
    expect(partitions.filter((p) => p.stoppedError !== null)).toHaveLength(1);
  }, 20_000);
}

/** Each push holds exactly the key's tallies at or below its position. */
function expectExact(pushes: Pushes<TallyPush>, talliedAt: readonly bigint[]): void {
  for (const { tally: pushed } of pushes.values) expect(pushed.count).toBe(talliedAt.filter((at) => at <= BigInt(pushed.position)).length);
  const positions = pushes.values.map((value) => BigInt(value.tally.position));
  for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
}

describe('a projection of several partitions', () => {
  it('pushes the keys of running partitions while another partition is stopped on a failure', async () => {
    const { projection, url } = await setUp();
    const [stuck, flowing] = keysInPartitions(2) as [string, string];
    const client = wsClient(url);
    const ofStuck = client.subscribe<TallyPush>(tallySubscription, { k: stuck });
    const ofFlowing = client.subscribe<TallyPush>(tallySubscription, { k: flowing });
    await ofStuck.waitFor((values) => values.length === 1, 'the stuck key now');
    await ofFlowing.waitFor((values) => values.length === 1, 'the flowing key now');

    await tally(bed.store, projection.name, stuck, true);
    await stopped(projection);
    const stuckLater = await tally(bed.store, projection.name, stuck);
    const talliedAt: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      talliedAt.push(await tally(bed.store, projection.name, flowing));
      await ofFlowing.waitFor((values) => values.at(-1)?.tally.count === talliedAt.length, `${talliedAt.length} tallies of the flowing key`);
    }
    // Each at the position of its own change, the row exactly as of it.
    expect(ofFlowing.values.slice(1).map((value) => BigInt(value.tally.position))).toEqual(talliedAt);
    expectExact(ofFlowing, talliedAt);
    // The stuck key's partition never got past the poisoned tally: nothing of it was pushed.
    expect(ofStuck.values.map((value) => value.tally.count)).toEqual([0]);
    expect(stuckLater > 0n).toBe(true);
    await client.close();
  });

  it('pushes a row at the position of its last change, never holding a later change of its partition', async () => {
    const { projection, url } = await setUp();
    const [stuck] = keysInPartitions(1) as [string];
    const client = wsClient(url);
    await tally(bed.store, projection.name, stuck, true);
    await stopped(projection);
    // Two keys of one running partition, their tallies interleaved.
    const [one, two] = keysInOnePartition(2, stuck) as [string, string];
    const ofOne = client.subscribe<TallyPush>(tallySubscription, { k: one });
    await ofOne.waitFor((values) => values.length === 1, 'the count now');
    const oneAt: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      oneAt.push(await tally(bed.store, projection.name, one));
      await tally(bed.store, projection.name, two);
      await ofOne.waitFor((values) => values.at(-1)?.tally.count === oneAt.length, `${oneAt.length} tallies`);
    }
    expectExact(ofOne, oneAt);
    const last = ofOne.values.at(-1)!.tally.position;

    // Reconnecting with the last position: what was missed, once, then live changes.
    await client.close();
    oneAt.push(await tally(bed.store, projection.name, one), await tally(bed.store, projection.name, one));
    const again = wsClient(url);
    const resumed = again.subscribe<TallyPush>(tallySubscription, { k: one, a: last });
    await resumed.waitFor((values) => values.at(-1)?.tally.count === 5, 'the 2 tallies missed');
    oneAt.push(await tally(bed.store, projection.name, one));
    await resumed.waitFor((values) => values.at(-1)?.tally.count === 6, 'the live tally after');
    expect(resumed.values.every((value) => BigInt(value.tally.position) > BigInt(last))).toBe(true);
    expectExact(resumed, oneAt);
    await again.close();
  });

  it('holds a row whose events fall in several partitions while a change of it waits below one applied', async () => {
    const { projection, url } = await setUp('stream');
    const [spread, steady] = [unique('spread'), unique('steady')];
    const client = wsClient(url);
    const ofSpread = client.subscribe<TallyPush>(tallySubscription, { k: spread });
    const ofSteady = client.subscribe<TallyPush>(tallySubscription, { k: steady });
    await ofSpread.waitFor((values) => values.length === 1, 'the spread key now');
    await ofSteady.waitFor((values) => values.length === 1, 'the steady key now');
    const firstAt = await tallyOnPartition(bed.store, projection.name, spread, 1);
    await ofSpread.waitFor((values) => values.at(-1)?.tally.count === 1, 'the first tally');

    // Partition 0 stops on a tally of the key; partition 1 applies a later one.
    await tallyOnPartition(bed.store, projection.name, spread, 0, true);
    await stopped(projection);
    await tallyOnPartition(bed.store, projection.name, spread, 1);
    const steadyAt = await tallyOnPartition(bed.store, projection.name, steady, 1);
    // Once the steady key's later tally is pushed, the round has passed the spread key's:
    // its row (2) holds a change past one that waits, so it was not pushed.
    await ofSteady.waitFor((values) => values.at(-1)?.tally.count === 1, 'the steady key, past the spread key');
    expect(BigInt(ofSteady.values.at(-1)!.tally.position)).toBe(steadyAt);
    expect(ofSpread.values.map((value) => [value.tally.count, BigInt(value.tally.position)])).toEqual([
      [0, BigInt(ofSpread.values[0]!.tally.position)],
      [1, firstAt],
    ]);
    await client.close();
  });
});
