import { catchUpProjections, startRebuild, ValidationError, type EventStore } from 'annals';
import { expect, it } from 'vitest';
import { likeCounts } from '../../projections/index.js';
import { createTestStore } from '../setup/database.js';

// Issue 11, item 7: positions past Postgres' bigint were a raw 22003 or a wait until the timeout.
const store: EventStore = await createTestStore('position_bounds');

it.each([
  ['catchUpProjections until', 'options.until', () => catchUpProjections(store, [likeCounts], { until: 2n ** 63n, timeoutMs: 2_000 })],
  ['catchUpProjections until < 0', 'options.until', () => catchUpProjections(store, [likeCounts], { until: -1n })],
  ['startRebuild from', 'options.from', () => startRebuild(store, likeCounts, { from: 2n ** 63n })],
  ['startRebuild from a number', 'options.from', () => startRebuild(store, likeCounts, { from: 5 as never })],
])('%s out of a global position\'s bounds is a ValidationError on %s', async (_name, field, call) => {
  const error = await call().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).field).toBe(field);
});
