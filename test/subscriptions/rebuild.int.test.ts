/**
 * A subscription across a blue/green rebuild: the new version's workers build a new
 * generation beside the live one and switch to it; the subscriber carries on, pushed
 * rows of the new tables from then on, no position twice and no change lost.
 */
import { expect, it } from 'vitest';
import { composeSchema } from '../../src/graphql/compose-schema.js';
import { eventually } from '../setup/eventually.js';
import { wsClient } from './support/ws-client.js';
import { testbed, unique } from './support/testbed.js';
import { health, tally, tallySubscription, talliesProjection, talliesSubscription, type TallyPush } from './support/tallies.js';

const bed = await testbed('sub_rebuild');

async function liveVersion(name: string): Promise<number | undefined> {
  const [row] = await bed.store.withTransaction((tx) =>
    tx.query<{ version: number }>(`SELECT version FROM "${bed.store.schema}".projection_generations WHERE projection = $1 AND status = 'live'`, [name]),
  );
  return row?.version;
}

it('keeps a subscription going through a rebuild and its switch: the new rows, nothing twice, nothing lost', async () => {
  const name = unique('tallies');
  // Version 2 counts each tally as 10: a row pushed tells which generation it came from.
  const v1 = talliesProjection(name, 1, 1);
  const v2 = talliesProjection(name, 2, 10);
  await bed.runWorkers([v1], { pollIntervalMs: 100 });
  const { url } = await bed.startService({ ...composeSchema([health, talliesSubscription(v1)]) });
  const key = unique('k');
  const client = wsClient(url);
  const pushes = client.subscribe<TallyPush>(tallySubscription, { k: key });
  await pushes.waitFor((values) => values.length === 1, 'the row now');
  const talliedAt = [await tally(bed.store, name, key), await tally(bed.store, name, key)];
  await pushes.waitFor((values) => values.at(-1)?.tally.count === 2, 'the 2 tallies of version 1');

  // Another key's tally: the log moves on past the row's last change before the switch.
  await tally(bed.store, name, unique('other'));

  // The new version's workers (a deploy) rebuild and switch; the old ones run on meanwhile.
  await bed.runWorkers([v2], { pollIntervalMs: 100 });
  await eventually(async () => expect(await liveVersion(name)).toBe(2), 20_000);
  // The switch is pushed: the row of the new tables, at the new generation's checkpoint.
  await pushes.waitFor((values) => values.at(-1)?.tally.count === 20, 'the row of the new tables at the switch');
  talliedAt.push(await tally(bed.store, name, key));
  await pushes.waitFor((values) => values.at(-1)?.tally.count === 30, 'the tally after the switch');

  const positions = pushes.values.map((value) => BigInt(value.tally.position));
  for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);
  // Version 1's rows up to the switch, then version 2's; each exact as of its position
  // (tallies applied in one batch come as one push).
  const counts = pushes.values.map((value) => value.tally.count);
  const switchedAt = counts.indexOf(20);
  expect(counts.slice(switchedAt)).toEqual([20, 30]);
  expect(counts.slice(0, switchedAt).at(-1)).toBe(2);
  expect(positions.at(-1)).toBe(talliedAt[2]);
  pushes.values.forEach(({ tally: pushed }, i) => {
    const step = i < switchedAt ? 1 : 10;
    expect(pushed.count).toBe(step * talliedAt.filter((at) => at <= BigInt(pushed.position)).length);
  });
  await client.close();
});
