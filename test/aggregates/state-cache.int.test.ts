import { randomUUID } from 'node:crypto';
import {
  createEventStore,
  defineAggregate,
  DomainError,
  handleCommand,
  loadAggregate,
  StreamDeletedError,
  type EventStore,
  type EventStoreSession,
} from 'annals';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bankAccount } from '../../domain/bank-account/index.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';
import { wrapSession } from './support/sessions.js';
import { clearStateCaches } from '../../src/aggregates/state-cache.js';

const store: EventStore = await createTestStore('state_cache');
// A second store on the same schema, with its own pool and its own cache: another
// process of the same service.
const otherProcess = createEventStore({ connectionString: testDatabaseUrl, maxConnections: 10 }, { schema: store.schema });
afterAll(() => otherProcess.close());

// The domain's bank account with a state cache (defineAggregate derives the rest again).
const { eventCodec: _codec, commandSchema: _commands, streamId: _streamId, ...definition } = bankAccount;
const cachedAccount = (maxStreams = 1000) => defineAggregate({ ...definition, cache: { maxStreams } });

const deposit = (amount: number) => ({ type: 'DepositMoney', data: { amount } }) as const;
const withdraw = (amount: number) => ({ type: 'WithdrawMoney', data: { amount } }) as const;

/** The store, recording which of its methods are called: what a command costs in statements. */
function watched(session: EventStore) {
  const calls: string[] = [];
  const count =
    <K extends keyof EventStoreSession>(name: K) =>
    (...args: unknown[]) => {
      calls.push(name);
      return (session[name] as (...a: unknown[]) => unknown).apply(session, args);
    };
  const proxy = wrapSession(session, {
    appendToStream: count('appendToStream') as never,
    readStreamFromSnapshot: count('readStreamFromSnapshot') as never,
    readStream: count('readStream') as never,
  });
  return { store: proxy, calls };
}

async function openAccount(session: EventStoreSession, aggregate: typeof bankAccount | ReturnType<typeof cachedAccount>, balance: number) {
  const id = randomUUID();
  await handleCommand(session, aggregate, id, { type: 'OpenAccount', data: { accountId: id, owner: 'ada' } });
  if (balance > 0) await handleCommand(session, aggregate, id, deposit(balance));
  return id;
}

const codeOf = (error: unknown) => (error instanceof DomainError ? error.code : error);

describe('a state cache', () => {
  it('lets the next command on a stream append without loading it', async () => {
    const account = cachedAccount();
    const { store: session, calls } = watched(store);
    const id = await openAccount(session, account, 100);
    calls.length = 0;
    const result = await handleCommand(session, account, id, withdraw(30));
    expect(calls).toEqual(['appendToStream']);
    expect(result).toMatchObject({ nextExpectedVersion: 3, state: { balance: 70 } });
    expect(await loadAggregate(store, bankAccount, id)).toMatchObject({ version: 3, state: { balance: 70 } });
  });

  it('caches nothing a command read before the caches were emptied (a forget meanwhile)', async () => {
    const account = cachedAccount();
    const { store: session, calls } = watched(store);
    const id = await openAccount(session, account, 100);
    // The caches are emptied while a command is between its read and its append.
    const emptying = wrapSession(session, {
      appendToStream: ((...args: Parameters<EventStore['appendToStream']>) => {
        clearStateCaches(store);
        return session.appendToStream(...args);
      }) as never,
    });
    await handleCommand(emptying, account, id, withdraw(10));
    calls.length = 0;
    await handleCommand(session, account, id, withdraw(10));
    expect(calls).toEqual(['readStreamFromSnapshot', 'appendToStream']);
  });

  it('reloads and decides again when another process moved the stream on: never a stale answer', async () => {
    const account = cachedAccount();
    const { store: session, calls } = watched(store);
    // Cached with 100; the other process withdraws it all.
    const drained = await openAccount(session, account, 100);
    await handleCommand(otherProcess, account, drained, withdraw(100));
    calls.length = 0;
    const refused = await handleCommand(session, account, drained, withdraw(50)).catch((error: unknown) => error);
    expect(codeOf(refused)).toBe('ACCOUNT_INSUFFICIENT_FUNDS');
    expect(calls).toEqual(['appendToStream', 'readStreamFromSnapshot']);

    // Cached with 0; the other process deposits: the cached state would refuse the
    // withdrawal, a fresh one allows it. A refusal is only answered from a fresh load.
    const filled = await openAccount(session, account, 0);
    await handleCommand(otherProcess, account, filled, deposit(100));
    calls.length = 0;
    const result = await handleCommand(session, account, filled, withdraw(50));
    expect(result).toMatchObject({ nextExpectedVersion: 3, state: { balance: 50 } });
    expect(calls).toEqual(['readStreamFromSnapshot', 'appendToStream']);
  });

  it('reloads a stream deleted, or deleted and recreated, since it was cached: answers as without a cache', async () => {
    const account = cachedAccount();
    const id = await openAccount(store, account, 50);
    await store.deleteStream(account.streamId(id));
    const cached = await handleCommand(store, account, id, deposit(5)).catch((error: unknown) => error);
    const uncached = await handleCommand(store, bankAccount, id, deposit(5)).catch((error: unknown) => error);
    expect(cached).toBeInstanceOf(StreamDeletedError);
    expect(uncached).toBeInstanceOf(StreamDeletedError);

    // Cached again with 50, then deleted and recreated by another writer: the new life's
    // state is used, not the cached one of the old.
    const other = await openAccount(store, account, 50);
    await store.deleteStream(account.streamId(other));
    await store.appendToStream(account.streamId(other), [{ type: 'AccountOpened', data: { accountId: other, owner: 'bob' } }], {
      expectedVersion: 'no_stream',
    });
    expect(await handleCommand(store, account, other, deposit(7))).toMatchObject({ nextExpectedVersion: 4, state: { balance: 7, owner: 'bob' } });
  });

  it('is not used inside a transaction, whose command may still roll back', async () => {
    const account = cachedAccount();
    const { store: session, calls } = watched(store);
    const id = await openAccount(session, account, 100);
    await expect(
      session.withTransaction(async (tx) => {
        await handleCommand(tx, account, id, withdraw(100));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    // Still the state before the transaction: one append, no conflict.
    calls.length = 0;
    expect(await handleCommand(session, account, id, deposit(1))).toMatchObject({ nextExpectedVersion: 3, state: { balance: 101 } });
    expect(calls).toEqual(['appendToStream']);
    // A committed one moves the stream past the cached state: reloaded on the next command.
    await session.withTransaction((tx) => handleCommand(tx, account, id, deposit(1)));
    calls.length = 0;
    expect(await handleCommand(session, account, id, withdraw(102))).toMatchObject({ nextExpectedVersion: 5, state: { balance: 0 } });
    expect(calls).toEqual(['readStreamFromSnapshot', 'appendToStream']);
  });

  it('handles the commands of one stream one at a time in a process: no conflict, one load', async () => {
    const account = cachedAccount();
    const { store: session, calls } = watched(store);
    const id = await openAccount(session, account, 0);
    calls.length = 0;
    const results = await Promise.all(Array.from({ length: 40 }, () => handleCommand(session, account, id, deposit(1))));
    expect(results.map((r) => r.nextExpectedVersion).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2));
    expect(calls.filter((call) => call === 'appendToStream')).toHaveLength(40);
    expect(calls.filter((call) => call !== 'appendToStream')).toHaveLength(0);
    expect(await loadAggregate(store, bankAccount, id)).toMatchObject({ version: 41, state: { balance: 40 } });
  });

  it('never overdraws with 20 concurrent withdrawals from two processes, each with its own cache', async () => {
    const account = cachedAccount();
    const id = await openAccount(store, account, 90);
    // Both caches warm, this process's already stale.
    await handleCommand(otherProcess, account, id, deposit(10));
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        handleCommand(i % 2 === 0 ? store : otherProcess, account, id, withdraw(10), { retryDelay: { min: 1, max: 20 }, retries: 50 }).then(
          () => 'ok',
          (error: unknown) => codeOf(error),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'ACCOUNT_INSUFFICIENT_FUNDS')).toHaveLength(10);
    expect(await loadAggregate(store, bankAccount, id)).toMatchObject({ version: 13, state: { balance: 0 } });
  });

  it('answers a retried command id once, as without a cache, even after another process ran it and moved on', async () => {
    const account = cachedAccount();
    const id = await openAccount(store, account, 100);
    const command = { ...withdraw(60), id: randomUUID() };
    const first = await handleCommand(store, account, id, command);
    const again = await handleCommand(store, account, id, command);
    expect(again.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
    expect(again.nextExpectedVersion).toBe(first.nextExpectedVersion);
    expect(await loadAggregate(store, bankAccount, id)).toMatchObject({ version: 3, state: { balance: 40 } });

    // This process has the stream cached at version 4; the other one runs a command, then
    // another. Retried here, the first is answered as an uncached handler answers it.
    await handleCommand(store, account, id, deposit(1));
    const elsewhere = { ...deposit(5), id: randomUUID() };
    const original = await handleCommand(otherProcess, account, id, elsewhere);
    await handleCommand(otherProcess, account, id, deposit(1));
    const retried = await handleCommand(store, account, id, elsewhere);
    const uncached = await handleCommand(store, bankAccount, id, elsewhere);
    expect(retried).toEqual(uncached);
    expect(retried.events.map((e) => e.id)).toEqual(original.events.map((e) => e.id));
    expect(retried).toMatchObject({ nextExpectedVersion: 5, state: { balance: 47 } });
  });

  it('keeps at most maxStreams streams, dropping the least recently used', async () => {
    const account = cachedAccount(2);
    const { store: session, calls } = watched(store);
    const a = await openAccount(session, account, 0);
    const b = await openAccount(session, account, 0);
    await handleCommand(session, account, a, deposit(1)); // a used after b
    const c = await openAccount(session, account, 0); // drops b, not a
    calls.length = 0;
    await handleCommand(session, account, a, deposit(1));
    await handleCommand(session, account, c, deposit(1));
    await handleCommand(session, account, b, deposit(1));
    expect(calls).toEqual(['appendToStream', 'appendToStream', 'readStreamFromSnapshot', 'appendToStream']);
  });

  it('answers as an uncached handler and caches the state a load would rebuild, even for a schema that changes its own output', async () => {
    // Parsing doubles `by`: the event is stored doubled, and doubled again when read back.
    // A load therefore sees 4 where the command's own events said 2; the cache must too.
    const counter = (cache: boolean) =>
      defineAggregate({
        category: 'doubling',
        initialState: () => ({ total: 0 }),
        events: { Added: z.object({ by: z.number().transform((n) => n * 2) }) },
        commands: { Add: z.object({ by: z.number() }) },
        evolve: (state, event) => ({ total: state.total + event.data.by }),
        decide: (command) => ({ type: 'Added', data: { by: command.data.by } }),
        ...(cache ? { cache: { maxStreams: 10 } } : {}),
      });
    const [cached, uncached] = [counter(true), counter(false)];
    const results = async (aggregate: typeof cached) => {
      const id = randomUUID();
      const first = await handleCommand(store, aggregate, id, { type: 'Add', data: { by: 1 } });
      const second = await handleCommand(store, aggregate, id, { type: 'Add', data: { by: 1 } });
      return [first.state, second.state, (await loadAggregate(store, aggregate, id)).state];
    };
    expect(await results(cached)).toEqual(await results(uncached));
    expect(await results(cached)).toEqual([{ total: 2 }, { total: 6 }, { total: 8 }]);
  });

  it('refuses a bad policy, naming it', () => {
    for (const maxStreams of [0, -1, 1.5, Number.NaN]) {
      expect(() => defineAggregate({ ...definition, cache: { maxStreams } })).toThrow('aggregate.cache.maxStreams: must be a whole number >= 1');
    }
  });
});
