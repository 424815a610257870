import { randomUUID } from 'node:crypto';
import { defineAggregate, DomainError, handleCommand, loadAggregate, type AnyAggregate, type CommandInput, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bankAccount, type BankAccountState } from '../../domain/bank-account/index.js';
import { createTestStore } from '../setup/database.js';

// Issue 11, item 4: with a state cache, the state a command decided on and the state it
// cached were both reduced from the same loaded object. An `evolve` that updates the
// state in place applied each command's events twice: cache off, deposit 100 then
// withdraw 150 is refused; cache on, the withdrawal was accepted and the log went to -50.
const store: EventStore = await createTestStore('state_cache_mutation');

const { eventCodec: _codec, commandSchema: _commands, streamId: _streamId, snapshotCounts: _counts, ...definition } = bankAccount;

/** The domain's bank account, with an evolve that changes the state in place and returns it. */
const mutatingAccount = (cache: boolean) =>
  defineAggregate({
    ...definition,
    evolve: (state: BankAccountState, event): BankAccountState => {
      switch (event.type) {
        case 'AccountOpened':
          Object.assign(state, { status: 'open', accountId: event.data.accountId, owner: event.data.owner });
          break;
        case 'MoneyDeposited':
          state.balance += event.data.amount;
          break;
        case 'MoneyWithdrawn':
          state.balance -= event.data.amount;
          break;
        case 'AccountClosed':
          state.status = 'closed';
          break;
      }
      return state;
    },
    ...(cache ? { cache: { maxStreams: 100 } } : {}),
  });

class OutOfStock extends DomainError {
  constructor(sku: string, left: number, wanted: number) {
    super('SHELF_OUT_OF_STOCK', `${left} of ${sku} left, ${wanted} wanted`, { sku, left, wanted });
  }
}

const line = z.object({ sku: z.string(), qty: z.number().int().positive() });

/** A shelf whose state is a Map of stock and an array of what happened, both changed in place. */
const mutatingShelf = (cache: boolean) =>
  defineAggregate({
    category: 'shelf',
    initialState: () => ({ stock: new Map<string, number>(), history: [] as string[] }),
    events: { Stocked: line, Reserved: line },
    commands: { Stock: line, Reserve: line },
    evolve: (state, event) => {
      const left = state.stock.get(event.data.sku) ?? 0;
      state.stock.set(event.data.sku, event.type === 'Stocked' ? left + event.data.qty : left - event.data.qty);
      state.history.push(`${event.type} ${event.data.qty} ${event.data.sku}`);
      return state;
    },
    decide: (command, state) => {
      if (command.type === 'Stock') return { type: 'Stocked', data: command.data };
      const left = state.stock.get(command.data.sku) ?? 0;
      if (left < command.data.qty) throw new OutOfStock(command.data.sku, left, command.data.qty);
      return { type: 'Reserved', data: command.data };
    },
    ...(cache ? { cache: { maxStreams: 100 } } : {}),
  });

/** A state that is a class instance: structuredClone would lose its methods. */
class Jar {
  coins = 0;
  put(n: number): void {
    this.coins += n;
  }
}
const mutatingJar = (cache: boolean) =>
  defineAggregate({
    category: 'jar',
    initialState: () => new Jar(),
    events: { Put: z.object({ n: z.number() }), Taken: z.object({ n: z.number() }) },
    commands: { Put: z.object({ n: z.number() }), Take: z.object({ n: z.number() }) },
    evolve: (state, event) => {
      state.put(event.type === 'Put' ? event.data.n : -event.data.n);
      return state;
    },
    decide: (command, state) => {
      if (command.type === 'Put') return { type: 'Put', data: command.data };
      if (state.coins < command.data.n) throw new OutOfStock('coins', state.coins, command.data.n);
      return { type: 'Taken', data: command.data };
    },
    ...(cache ? { cache: { maxStreams: 100 } } : {}),
  });

/**
 * Runs `commands` on a new stream, one after the other: each command's answer (its state
 * read only after all of them ran, so a state changed afterwards shows), the log, and the
 * state a load gives at the end.
 */
async function run<A extends AnyAggregate>(aggregate: A, commands: readonly CommandInput<never>[]) {
  const id = randomUUID();
  const answers: unknown[] = [];
  for (const command of commands) {
    answers.push(
      await handleCommand(store, aggregate, id, command as never).then(
        (result) => result,
        (error: unknown) => (error instanceof DomainError ? error.code : error),
      ),
    );
  }
  const decisions = answers.map((answer) => (typeof answer === 'string' ? answer : (answer as { state: unknown }).state));
  const log = (await store.readStream(aggregate.streamId(id))).map((event) => [event.type, event.data]);
  return { decisions, log, loaded: (await loadAggregate(store, aggregate, id)).state as unknown };
}

describe('an evolve that changes the state in place gets the same answers with a state cache as without', () => {
  it('a bank account: a withdrawal beyond the balance is refused either way', async () => {
    const commands = [
      { type: 'OpenAccount', data: { accountId: 'a-1', owner: 'ada' } },
      { type: 'DepositMoney', data: { amount: 100 } },
      { type: 'WithdrawMoney', data: { amount: 150 } },
      { type: 'WithdrawMoney', data: { amount: 60 } },
      { type: 'DepositMoney', data: { amount: 10 } },
      { type: 'WithdrawMoney', data: { amount: 60 } },
    ] as const;
    const uncached = await run(mutatingAccount(false), commands as never);
    const cached = await run(mutatingAccount(true), commands as never);

    expect(cached).toEqual(uncached);
    expect(uncached.decisions.map((d) => (typeof d === 'string' ? d : (d as BankAccountState).balance))).toEqual([
      0,
      100,
      'ACCOUNT_INSUFFICIENT_FUNDS',
      40,
      50,
      'ACCOUNT_INSUFFICIENT_FUNDS',
    ]);
    expect(uncached.log.map(([type]) => type)).toEqual(['AccountOpened', 'MoneyDeposited', 'MoneyWithdrawn', 'MoneyDeposited']);
    expect(cached.loaded).toMatchObject({ balance: 50 });
  });

  it('a state holding a Map and an array changed in place', async () => {
    const commands = [
      { type: 'Stock', data: { sku: 'tea', qty: 5 } },
      { type: 'Reserve', data: { sku: 'tea', qty: 3 } },
      { type: 'Reserve', data: { sku: 'tea', qty: 3 } },
      { type: 'Stock', data: { sku: 'jam', qty: 1 } },
      { type: 'Reserve', data: { sku: 'tea', qty: 2 } },
      { type: 'Reserve', data: { sku: 'jam', qty: 2 } },
    ];
    const uncached = await run(mutatingShelf(false), commands as never);
    const cached = await run(mutatingShelf(true), commands as never);

    expect(cached).toEqual(uncached);
    expect(uncached.decisions.map((d) => (typeof d === 'string' ? d : Object.fromEntries((d as { stock: Map<string, number> }).stock)))).toEqual([
      { tea: 5 },
      { tea: 2 },
      'SHELF_OUT_OF_STOCK',
      { tea: 2, jam: 1 },
      { tea: 0, jam: 1 },
      'SHELF_OUT_OF_STOCK',
    ]);
    expect(cached.loaded).toEqual({ stock: new Map([['tea', 0], ['jam', 1]]), history: ['Stocked 5 tea', 'Reserved 3 tea', 'Stocked 1 jam', 'Reserved 2 tea'] });
  });

  it('a state that is a class instance (which a copy would turn into a plain object)', async () => {
    const commands = [
      { type: 'Put', data: { n: 10 } },
      { type: 'Take', data: { n: 15 } },
      { type: 'Take', data: { n: 6 } },
      { type: 'Take', data: { n: 6 } },
    ];
    const uncached = await run(mutatingJar(false), commands as never);
    const cached = await run(mutatingJar(true), commands as never);

    expect(cached).toEqual(uncached);
    expect(uncached.decisions.map((d) => (typeof d === 'string' ? d : (d as Jar).coins))).toEqual([10, 'SHELF_OUT_OF_STOCK', 4, 'SHELF_OUT_OF_STOCK']);
    expect(cached.decisions.filter((d) => typeof d !== 'string').every((d) => d instanceof Jar)).toBe(true);
  });

  it('the state a command returned is not changed by the next command, nor does changing it reach the cache', async () => {
    const account = mutatingAccount(true);
    const id = randomUUID();
    await handleCommand(store, account, id, { type: 'OpenAccount', data: { accountId: id, owner: 'ada' } });
    const first = await handleCommand(store, account, id, { type: 'DepositMoney', data: { amount: 100 } });
    first.state.balance = 1_000_000; // a caller scribbling on its answer
    await expect(handleCommand(store, account, id, { type: 'WithdrawMoney', data: { amount: 150 } })).rejects.toMatchObject({
      code: 'ACCOUNT_INSUFFICIENT_FUNDS',
    });
    const second = await handleCommand(store, account, id, { type: 'DepositMoney', data: { amount: 1 } });
    expect(second.state.balance).toBe(101);
    expect(first.state.balance).toBe(1_000_000);
  });
});

describe('the state a command answers with', () => {
  it('an evolve that throws on the new events fails the command before anything is written', async () => {
    // Review of issue 11: the answer's state was evolved after the append, outside any
    // guard, so the command threw while its event stayed committed.
    const fragile = defineAggregate({
      ...definition,
      evolve: (state: BankAccountState, event): BankAccountState => {
        if (event.type === 'MoneyWithdrawn') throw new TypeError('evolve cannot handle withdrawals yet');
        return definition.evolve(state, event);
      },
    });
    const id = randomUUID();
    await handleCommand(store, fragile, id, { type: 'OpenAccount', data: { accountId: id, owner: 'ada' } });
    await handleCommand(store, fragile, id, { type: 'DepositMoney', data: { amount: 100 } });
    await expect(handleCommand(store, fragile, id, { type: 'WithdrawMoney', data: { amount: 10 } })).rejects.toThrow(/cannot handle withdrawals/);
    expect((await store.readStream(fragile.streamId(id))).map((event) => event.type)).toEqual(['AccountOpened', 'MoneyDeposited']);
  });

  it('a retried command with an id is answered with the log’s state, even when evolve changes states in place', async () => {
    const account = mutatingAccount(false);
    const id = randomUUID();
    await handleCommand(store, account, id, { type: 'OpenAccount', data: { accountId: id, owner: 'ada' } });
    const first = await handleCommand(store, account, id, { type: 'DepositMoney', data: { amount: 100 }, id: 'deposit-1' });
    const retried = await handleCommand(store, account, id, { type: 'DepositMoney', data: { amount: 100 }, id: 'deposit-1' });
    expect(first.state.balance).toBe(100);
    expect(retried.state.balance).toBe(100);
    expect(retried.events).toEqual(first.events);
    expect((await loadAggregate(store, account, id)).state.balance).toBe(100);
  });
});
