import { randomUUID } from 'node:crypto';
import { aggregateStream, defineAggregate, EventSchemaError, handleCommand, loadAggregate, StreamTruncatedError, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { bankAccount } from '../../domain/bank-account/index.js';
import { createTestStore } from '../setup/database.js';
import { tally } from '../support/tally.js';
import { countingReads, wrapSession } from './support/sessions.js';

// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('snapshots');

/** An aggregate's definition without the parts defineAggregate adds, to define variants. */
function definitionOf<A extends typeof tally | typeof bankAccount>(aggregate: A) {
  const { category, initialState, events, commands, evolve, decide } = aggregate;
  return { category, initialState, events, commands, evolve, decide } as Omit<A, 'eventCodec' | 'commandSchema' | 'streamId' | 'snapshots'>;
}

const tallyEvery10 = defineAggregate({ ...definitionOf(tally), snapshots: { every: 10, version: 1 } });

/** An open account with `deposits` deposits of 1 after it: `deposits + 1` events. */
async function accountWithDeposits(deposits: number): Promise<string> {
  const id = randomUUID();
  await handleCommand(store, bankAccount, id, { type: 'OpenAccount', data: { accountId: id, owner: 'ada' } });
  for (let i = 0; i < deposits; i++) await handleCommand(store, bankAccount, id, { type: 'DepositMoney', data: { amount: 1 } });
  return id;
}

const deposit = (id: string, amount = 1) => handleCommand(store, bankAccount, id, { type: 'DepositMoney', data: { amount } });

describe('snapshots are written each time a command passes a multiple of `every`', () => {
  it('every 50 events for a bank account', async () => {
    const id = await accountWithDeposits(48);
    const streamId = bankAccount.streamId(id);
    expect(await store.readSnapshot(streamId)).toBeNull();

    await deposit(id); // event 50
    expect(await store.readSnapshot(streamId)).toEqual({
      snapshotVersion: 1,
      streamVersion: 50,
      state: { status: 'open', accountId: id, owner: 'ada', balance: 49 },
    });

    for (let i = 0; i < 49; i++) await deposit(id); // events 51 to 99
    expect((await store.readSnapshot(streamId))?.streamVersion).toBe(50);
    await deposit(id); // event 100
    expect(await store.readSnapshot(streamId)).toMatchObject({ streamVersion: 100, state: { balance: 99 } });
  });

  it('a command appending several events snapshots where it ends, not at the multiple it passed', async () => {
    const id = randomUUID();
    for (let i = 0; i < 3; i++) await handleCommand(store, tallyEvery10, id, { type: 'Count', data: { times: 4 } });
    expect(await store.readSnapshot(tally.streamId(id))).toEqual({ snapshotVersion: 1, streamVersion: 12, state: { count: 12 } });
  });
});

describe('loading starts from the latest snapshot', () => {
  it('reads only the events after it', async () => {
    const id = await accountWithDeposits(119); // 120 events, snapshot at 100
    const reads = countingReads(store);
    const loaded = await loadAggregate(reads.session, bankAccount, id);
    expect(loaded).toMatchObject({ version: 120, state: { balance: 119 } });
    expect(reads.eventsRead()).toBe(20);
  });

  it('in one call to the store, even when the snapshot is at the head or the stream is new', async () => {
    const calls: string[] = [];
    const watched = new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const atHead = await accountWithDeposits(49); // 50 events, snapshot at 50
    expect(await loadAggregate(watched, bankAccount, atHead)).toMatchObject({ version: 50, state: { balance: 49 } });
    expect(await loadAggregate(watched, bankAccount, randomUUID())).toMatchObject({ version: 0, state: { status: 'unopened' } });
    expect(calls).toEqual(['readStreamFromSnapshot', 'readStreamFromSnapshot']);
  });

  it('so an unreadable event before the snapshot does not break a load, while a full replay trips on it', async () => {
    const id = await accountWithDeposits(59); // snapshot at 50
    await store.withTransaction((tx) =>
      tx.query(`UPDATE "${store.schema}".events SET data = '{"amount": "garbage"}' WHERE stream_id = $1 AND stream_version = 10`, [
        bankAccount.streamId(id),
      ]),
    );
    expect(await loadAggregate(store, bankAccount, id)).toMatchObject({ version: 60, state: { balance: 59 } });
    await expect(aggregateStream(store, bankAccount, id)).rejects.toMatchObject({ constructor: EventSchemaError, version: 10 });
  });

  it('a 100,000-event stream loads reading no more events than a short one', async () => {
    const id = randomUUID();
    const streamId = bankAccount.streamId(id);
    await store.appendToStream(streamId, [{ type: 'AccountOpened', data: { accountId: id, owner: 'ada' } }]);
    // Straight to the store, 10,000 at a time (the most one append takes): event 99,999.
    for (let batch = 0; batch < 10; batch++) {
      const size = batch === 9 ? 9_998 : 10_000;
      await store.appendToStream(streamId, Array.from({ length: size }, () => ({ type: 'MoneyDeposited', data: { amount: 1 } })));
    }
    expect(await store.readSnapshot(streamId)).toBeNull();
    await deposit(id); // event 100,000: handleCommand replays everything once and snapshots
    expect(await store.readSnapshot(streamId)).toMatchObject({ streamVersion: 100_000, state: { balance: 99_999 } });
    for (let i = 0; i < 3; i++) await deposit(id);

    const long = countingReads(store);
    expect(await loadAggregate(long.session, bankAccount, id)).toMatchObject({ version: 100_003, state: { balance: 100_002 } });
    const shortId = await accountWithDeposits(3);
    const short = countingReads(store);
    await loadAggregate(short.session, bankAccount, shortId);

    expect(long.eventsRead()).toBe(3);
    expect(short.eventsRead()).toBe(4);
    expect(long.eventsRead()).toBeLessThan(51);
  });
});

describe('a snapshot is never misread', () => {
  it('one of another snapshot version is ignored: the state comes from the events, then a new snapshot replaces it', async () => {
    const id = await accountWithDeposits(54); // 55 events; version-1 snapshot at 50
    const streamId = bankAccount.streamId(id);
    // Version 1's shape, but nonsense for version 2: reading it would give a wrong owner and balance.
    await store.writeSnapshot(streamId, { snapshotVersion: 1, streamVersion: 55, state: { owner: 'mallory', balance: -1e6 } });
    const bankAccountV2 = defineAggregate({ ...definitionOf(bankAccount), snapshots: { every: 50, version: 2 } });

    const reads = countingReads(store);
    expect(await loadAggregate(reads.session, bankAccountV2, id)).toEqual({
      version: 55,
      state: { status: 'open', accountId: id, owner: 'ada', balance: 54 },
    });
    expect(reads.eventsRead()).toBe(55);

    for (let i = 0; i < 45; i++) await handleCommand(store, bankAccountV2, id, { type: 'DepositMoney', data: { amount: 1 } });
    expect(await store.readSnapshot(streamId)).toMatchObject({ snapshotVersion: 2, streamVersion: 100, state: { balance: 99 } });
  });

  it('a deleted and recreated stream does not resurrect its old snapshot', async () => {
    const id = await accountWithDeposits(59); // snapshot at 50, balance 59
    const streamId = bankAccount.streamId(id);
    await store.deleteStream(streamId);
    await store.appendToStream(streamId, [{ type: 'AccountOpened', data: { accountId: id, owner: 'bob' } }], {
      expectedVersion: 'no_stream',
    });

    const loaded = await loadAggregate(store, bankAccount, id);
    expect(loaded.state).toEqual({ status: 'open', accountId: id, owner: 'bob', balance: 0 });
    await expect(handleCommand(store, bankAccount, id, { type: 'WithdrawMoney', data: { amount: 1 } })).rejects.toMatchObject({
      code: 'ACCOUNT_INSUFFICIENT_FUNDS',
    });
  });

  // handleCommand writes the snapshot in a second round trip after its append. A delete
  // that lands in between must not leave a snapshot for the recreated stream to start from.
  it('nor does a snapshot written just after the stream was deleted', async () => {
    const id = await accountWithDeposits(48); // 49 events: the next one snapshots
    const streamId = bankAccount.streamId(id);
    const deletedRightAfterTheAppend = wrapSession(store, {
      appendToStream: async (...args) => {
        const appended = await store.appendToStream(...args);
        await store.deleteStream(streamId);
        return appended;
      },
    });
    await handleCommand(deletedRightAfterTheAppend, bankAccount, id, { type: 'DepositMoney', data: { amount: 1 } });
    await store.appendToStream(streamId, [{ type: 'AccountOpened', data: { accountId: id, owner: 'bob' } }], {
      expectedVersion: 'no_stream',
    });

    expect((await loadAggregate(store, bankAccount, id)).state).toEqual({ status: 'open', accountId: id, owner: 'bob', balance: 0 });
  });

  // With its history truncated away ("snapshot, then truncate before it"), a stream whose
  // snapshot is of another version cannot be rebuilt from the events left: refused.
  it('nor is a truncated stream rebuilt from the events left when its snapshot is of another version', async () => {
    const id = await accountWithDeposits(59); // snapshot at 50
    await store.truncateStream(bankAccount.streamId(id), { before: 51 });
    expect(await loadAggregate(store, bankAccount, id)).toMatchObject({ version: 60, state: { balance: 59 } }); // fine while the snapshot fits

    const bankAccountV2 = defineAggregate({ ...definitionOf(bankAccount), snapshots: { every: 50, version: 2 } });

    await expect(loadAggregate(store, bankAccountV2, id)).rejects.toMatchObject({
      code: 'ANNALS_STREAM_TRUNCATED',
      streamId: bankAccount.streamId(id),
      fromVersion: 1,
      truncateBefore: 51,
    });
    await expect(aggregateStream(store, bankAccount, id)).rejects.toBeInstanceOf(StreamTruncatedError);
  });
});
