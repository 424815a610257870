import { defineAggregate, handleCommand, type Command, type CommandInput, type EventStore, type StateOf } from 'annals';
import { aggregateSpec } from 'annals/testing';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { bankAccount, bankAccountCommands, type BankAccountState } from '../../domain/bank-account/index.js';

// These tests are checked by `npx tsc --noEmit`: each `@ts-expect-error` line must be an
// error, or the type check fails. At run time they only have to load.

const events = { Incremented: z.object({ by: z.number().int() }) };
const commands = { Increment: z.object({ by: z.number().int().positive().default(1) }) };

describe('decide and evolve only accept the declared events', () => {
  it('a wrong event type or field is a compile error', () => {
    defineAggregate({
      category: 'counter',
      initialState: () => ({ count: 0 }),
      events,
      commands,
      evolve: (state, event) => {
        // @ts-expect-error: 'Decremented' is not one of the aggregate's event types
        if (event.type === 'Decremented') return state;
        // @ts-expect-error: Incremented has `by`, not `amount`
        return { count: state.count + event.data.amount };
      },
      // @ts-expect-error: decide may only return declared events
      decide: () => ({ type: 'Decremented', data: { by: 1 } }),
    });
    defineAggregate({
      category: 'counter',
      initialState: () => ({ count: 0 }),
      events,
      commands,
      evolve: (state, event) => ({ count: state.count + event.data.by }),
      // @ts-expect-error: `by` must be a number
      decide: (command) => ({ type: 'Incremented', data: { by: String(command.data.by) } }),
    });
  });

  it('the event and command in evolve and decide are typed from their zod schemas', () => {
    defineAggregate({
      category: 'counter',
      initialState: () => ({ count: 0 }),
      events,
      commands,
      evolve: (state, event) => {
        expectTypeOf(event).toEqualTypeOf<{ type: 'Incremented'; data: { by: number } }>();
        return { count: state.count + event.data.by };
      },
      decide: (command, state) => {
        // After parsing: the default applied, so `by` is never undefined here.
        expectTypeOf(command).toEqualTypeOf<{ type: 'Increment'; data: { by: number } }>();
        expectTypeOf(state).toEqualTypeOf<{ count: number }>();
        return { type: 'Incremented', data: { by: command.data.by } };
      },
    });
  });
});

describe('command types are inferred from zod', () => {
  it('parsed commands have the schema’s output, sent ones its input', () => {
    expectTypeOf<Extract<Command<typeof bankAccountCommands>, { type: 'DepositMoney' }>['data']>().toEqualTypeOf<{ amount: number }>();
    expectTypeOf<Command<typeof bankAccountCommands>['type']>().toEqualTypeOf<
      'OpenAccount' | 'DepositMoney' | 'WithdrawMoney' | 'CloseAccount'
    >();
    // The default makes `by` optional for the sender only.
    expectTypeOf<CommandInput<typeof commands>['data']>().toEqualTypeOf<{ by?: number | undefined }>();
    expectTypeOf<Command<typeof commands>['data']>().toEqualTypeOf<{ by: number }>();
  });

  it('an aggregate’s state type is its initial state’s', () => {
    expectTypeOf<StateOf<typeof bankAccount>>().toEqualTypeOf<BankAccountState>();
  });
});

describe('handleCommand and aggregateSpec only take the aggregate’s own commands', () => {
  // Never called: only compiled.
  async function compileOnly(store: EventStore) {
    const result = await handleCommand(store, bankAccount, 'a1', { type: 'DepositMoney', data: { amount: 5 } });
    expectTypeOf(result.state).toEqualTypeOf<BankAccountState>();
    expectTypeOf<(typeof result.events)[number]['type']>().toEqualTypeOf<'AccountOpened' | 'MoneyDeposited' | 'MoneyWithdrawn' | 'AccountClosed'>();

    // @ts-expect-error: the bank account has no 'Teleport' command
    await handleCommand(store, bankAccount, 'a1', { type: 'Teleport', data: {} });
    // @ts-expect-error: `amount` must be a number
    await handleCommand(store, bankAccount, 'a1', { type: 'DepositMoney', data: { amount: '5' } });
    // @ts-expect-error: WithdrawMoney needs an amount
    await handleCommand(store, bankAccount, 'a1', { type: 'WithdrawMoney', data: {} });

    const spec = aggregateSpec(bankAccount);
    spec.given([{ type: 'AccountOpened', data: { accountId: 'a1', owner: 'ada' } }]).when({ type: 'CloseAccount', data: {} });
    // @ts-expect-error: 'MoneyTeleported' is not an event of the bank account
    spec.given([{ type: 'MoneyTeleported', data: { amount: 5 } }]);
    // @ts-expect-error: 'Teleport' is not a command of the bank account
    spec.given([]).when({ type: 'Teleport', data: {} });
  }

  it('compiles', () => {
    expectTypeOf(compileOnly).toBeFunction();
  });
});
