import { DomainError } from 'annals';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bankAccount } from '../../../domain/bank-account/index.js';
import { commandSequences, replay, runCommands, stored } from './command-sequences.js';

describe('bank account, for any sequence of commands', () => {
  it('the state every decision was made on is the fold of the events stored before it', () => {
    fc.assert(
      fc.property(commandSequences(60), (commands) => {
        const { steps, state } = runCommands(commands);
        const log = [];
        for (const step of steps) {
          expect(replay(stored(log))).toEqual(step.before);
          log.push(...step.events);
        }
        expect(replay(stored(log))).toEqual(state);
      }),
    );
  });

  it('decide leaves the state it is given untouched', () => {
    fc.assert(
      fc.property(commandSequences(60), (commands) => {
        for (const { command, before } of runCommands(commands).steps) {
          const copy = stored(before);
          try {
            bankAccount.decide(bankAccount.commandSchema.parse(command), before);
          } catch (error) {
            if (!(error instanceof DomainError)) throw error;
          }
          expect(before).toEqual(copy);
        }
      }),
    );
  });

  it('replay is deterministic, and resuming from a snapshot at any point gives the same state', () => {
    fc.assert(
      fc.property(commandSequences(60), fc.nat(), (commands, cut) => {
        const events = runCommands(commands).steps.flatMap((step) => step.events);
        const at = events.length === 0 ? 0 : cut % (events.length + 1);
        const full = replay(events);
        expect(replay(stored(events))).toEqual(full);
        const snapshot = stored(replay(events.slice(0, at)));
        expect(replay(events.slice(at), snapshot)).toEqual(full);
      }),
    );
  });

  it('the balance never goes negative and always equals deposits minus withdrawals', () => {
    fc.assert(
      fc.property(commandSequences(60), (commands) => {
        const { steps, state } = runCommands(commands);
        let deposits = 0;
        let withdrawals = 0;
        for (const step of steps) {
          expect(step.before.balance).toBe(deposits - withdrawals);
          expect(step.before.balance).toBeGreaterThanOrEqual(0);
          for (const event of step.events) {
            if (event.type === 'MoneyDeposited') deposits += event.data.amount;
            if (event.type === 'MoneyWithdrawn') withdrawals += event.data.amount;
          }
        }
        expect(state.balance).toBe(deposits - withdrawals);
        expect(state.balance).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('a withdrawal is refused exactly when it asks for more than an open account holds', () => {
    fc.assert(
      fc.property(commandSequences(60), (commands) => {
        for (const { command, before, refused } of runCommands(commands).steps) {
          if (command.type !== 'WithdrawMoney' || before.status !== 'open') continue;
          expect(refused).toBe(command.data.amount > before.balance ? 'ACCOUNT_INSUFFICIENT_FUNDS' : null);
        }
      }),
    );
  });

  it('every rule is exercised by the generated sequences', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(commandSequences(60), (commands) => {
        for (const step of runCommands(commands).steps) seen.add(step.refused ?? step.events[0]!.type);
      }),
      { numRuns: 300 },
    );
    expect([...seen].sort()).toEqual(
      [
        'ACCOUNT_ALREADY_OPEN',
        'ACCOUNT_BALANCE_NOT_ZERO',
        'ACCOUNT_CLOSED',
        'ACCOUNT_INSUFFICIENT_FUNDS',
        'ACCOUNT_NOT_OPEN',
        'AccountClosed',
        'AccountOpened',
        'MoneyDeposited',
        'MoneyWithdrawn',
      ].sort(),
    );
  });
});
