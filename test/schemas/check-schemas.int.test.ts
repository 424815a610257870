import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  checkSchemas,
  defineAggregate,
  defineConsumer,
  defineProjection,
  upcast,
  ValidationError,
  versionedEvent,
  type EventSchemas,
} from '../../src/index.js';
import { createTestStore } from '../setup/database.js';

// `annals schemas check` as a library (docs/schemas.md): every stored event a reader of the
// code reads, run through its upcasters and current schema. The issue's test: a schema
// changed incompatibly fails the check, an upcaster makes it pass.

const store = await createTestStore('check_schemas');

const depositedV1 = z.object({ amount: z.number().int() });
const depositedV2 = z.object({ amountCents: z.number().int().positive() });

/** The account aggregate as the code of some deploy declares its events. */
function account(events: EventSchemas) {
  return defineAggregate({
    category: 'acct',
    initialState: () => ({ balance: 0 }),
    events,
    commands: { Deposit: z.object({ amount: z.number() }) },
    evolve: (state) => state,
    decide: () => [],
  });
}

// 30 deposits of the first shape, on three accounts; and one 'Retired' event no code reads.
for (let i = 1; i <= 30; i++) {
  await store.appendToStream(`acct-${i % 3}`, [{ type: 'Deposited', data: { amount: i } }], { expectedVersion: 'any' });
}
await store.appendToStream('acct-9', [{ type: 'Retired', data: {} }], { expectedVersion: 'any' });

describe('checkSchemas', () => {
  it('passes when the stored events decode with the code', async () => {
    const report = await checkSchemas(store, { aggregates: [account({ Deposited: depositedV1 })] });
    expect(report.ok).toBe(true);
    expect(report.results).toEqual([
      { reader: { kind: 'aggregate', name: 'acct' }, type: 'Deposited', schemaVersion: 1, currentVersion: 1, stored: 30, checked: 30, failed: 0, examples: [] },
    ]);
  });

  it('fails after an incompatible change, naming the path and reason, and passes once an upcaster reads the old shape', async () => {
    const changed = await checkSchemas(store, { aggregates: [account({ Deposited: depositedV2 })] }, { full: true });
    expect(changed.ok).toBe(false);
    const [result] = changed.results;
    expect(result).toMatchObject({ type: 'Deposited', schemaVersion: 1, currentVersion: 1, stored: 30, checked: 30, failed: 30 });
    expect(result!.examples).toHaveLength(3);
    expect(result!.examples[0]).toMatchObject({ streamId: expect.stringMatching(/^acct-/), reason: 'data does not fit schema version 1' });
    expect(result!.examples[0]!.issues.map((issue) => issue.field)).toContain('data.amountCents');
    expect(typeof result!.examples[0]!.globalPosition).toBe('bigint');

    const upcasted = versionedEvent(depositedV2, [upcast(depositedV1, (v1) => ({ amountCents: v1.amount * 100 }))]);
    const fixed = await checkSchemas(store, { aggregates: [account({ Deposited: upcasted })] }, { full: true });
    expect(fixed.ok).toBe(true);
    expect(fixed.results[0]).toMatchObject({ schemaVersion: 1, currentVersion: 2, checked: 30, failed: 0 });
  });

  it('fails an upcaster that throws, or a stored version newer than the code knows', async () => {
    const throwing = versionedEvent(depositedV2, [upcast(depositedV1, () => { throw new Error('no rate for this date'); })]);
    const report = await checkSchemas(store, { aggregates: [account({ Deposited: throwing })] }, { examples: 1 });
    expect(report.results[0]).toMatchObject({ failed: 30, checked: 30 });
    expect(report.results[0]!.examples).toHaveLength(1);
    expect(report.results[0]!.examples[0]!.reason).toMatch(/upcasting from schema version 1 threw: Error: no rate for this date/);

    await store.appendToStream('acct-newer', [{ type: 'Deposited', data: { amountCents: 5, currency: 'EUR' }, schemaVersion: 3 }], { expectedVersion: 'any' });
    const newer = await checkSchemas(store, { aggregates: [account({ Deposited: depositedV1 })] });
    expect(newer.ok).toBe(false);
    expect(newer.results.map((r) => [r.schemaVersion, r.failed])).toEqual([
      [1, 0],
      [3, 1],
    ]);
    expect(newer.results[1]!.examples[0]!.reason).toBe('schema version 3 is newer than this code knows (1)');
  });

  it('samples each stored version across its history, first and last included; full reads every event', async () => {
    const sampled = await checkSchemas(store, { aggregates: [account({ Deposited: depositedV1 })] }, { sample: 4 });
    const v1 = sampled.results.find((r) => r.schemaVersion === 1)!;
    // 30 stored, every 8th from the first, and the last: 1, 9, 17, 25, 30.
    expect(v1.checked).toBe(5);
    expect(v1.stored).toBe(30);

    // One bad event in the middle of the history: the full check finds it.
    const bad = await store.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 'ten' } }], { expectedVersion: 'any' });
    for (let i = 0; i < 10; i++) await store.appendToStream('acct-2', [{ type: 'Deposited', data: { amount: i } }], { expectedVersion: 'any' });
    const full = await checkSchemas(store, { aggregates: [account({ Deposited: depositedV1 })] }, { full: true });
    const fullV1 = full.results.find((r) => r.schemaVersion === 1)!;
    expect(fullV1).toMatchObject({ stored: 41, checked: 41, failed: 1 });
    expect(fullV1.examples[0]).toMatchObject({ globalPosition: bad.lastGlobalPosition, streamId: 'acct-1' });
    expect(fullV1.examples[0]!.issues[0]).toMatchObject({ field: 'data.amount' });
  });

  it('checks projections over their types and categories, each reader on its own', async () => {
    const balances = defineProjection({
      name: 'balances',
      version: 1,
      events: { Deposited: depositedV1 },
      categories: ['acct'],
      schema: async () => {},
      apply: async () => {},
    });
    const report = await checkSchemas(store, { aggregates: [account({ Deposited: depositedV1 })], projections: [balances] });
    expect(report.results.map((r) => `${r.reader.kind}:${r.reader.name} v${r.schemaVersion} failed ${r.failed}`)).toEqual([
      'aggregate:acct v1 failed 1',
      'aggregate:acct v3 failed 1',
      'projection:balances v1 failed 1',
      'projection:balances v3 failed 1',
    ]);
  });

  it('reports stored types no code reads, unless a consumer or outbox reads them', async () => {
    const code = { aggregates: [account({ Deposited: depositedV1 })] };
    const report = await checkSchemas(store, code);
    expect(report.unhandled).toEqual([{ category: 'acct', type: 'Retired', schemaVersion: 1, count: 1 }]);
    const archiver = defineConsumer({ name: 'archiver', eventTypes: ['Retired'], handle: async () => {} });
    expect((await checkSchemas(store, { ...code, consumers: [archiver] })).unhandled).toEqual([]);
  });

  it('refuses options that are not ones, naming the field', async () => {
    const error = await checkSchemas(store, {}, { sample: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]!.field).toBe('options.sample');
  });
});
