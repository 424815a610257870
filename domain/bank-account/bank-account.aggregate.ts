import { defineAggregate } from 'annals';
import { bankAccountCommands } from './bank-account.commands.js';
import { AccountAlreadyOpen, AccountIsClosed, AccountNotOpen, BalanceLimitExceeded, BalanceNotZero, InsufficientFunds } from './bank-account.errors.js';
import { bankAccountEvents, maxBalance } from './bank-account.events.js';

export interface BankAccountState {
  status: 'unopened' | 'open' | 'closed';
  accountId: string | null;
  owner: string | null;
  /** In minor units; the sum of deposits minus withdrawals, never below zero. */
  balance: number;
}

/** Refuses any operation on an account that is not open, naming why. */
function assertOpen(state: BankAccountState): void {
  if (state.status === 'unopened') throw new AccountNotOpen();
  if (state.status === 'closed') throw new AccountIsClosed(state.accountId ?? '');
}

/**
 * A bank account: stream `account-<id>`. Money moves only by deposits and withdrawals, the
 * balance is rebuilt from them, and the account refuses to go below zero.
 *
 * Closing needs a zero balance (ACCOUNT_BALANCE_NOT_ZERO otherwise): closing is final, so
 * money left in a closed account could never be paid out, and we would rather have the
 * payout recorded as a MoneyWithdrawn event than have money disappear with the account.
 *
 * Snapshots every 50 events keep loading a long-lived account as fast as a new one; the
 * state is plain JSON, so it needs no `toSnapshot`. Bump `version` if its shape changes.
 *
 * @example
 * ```ts
 * await handleCommand(store, bankAccount, 'acc-1', { type: 'OpenAccount', data: { accountId: 'acc-1', owner: 'ada' } });
 * await handleCommand(store, bankAccount, 'acc-1', { type: 'DepositMoney', data: { amount: 500 }, id: requestId });
 * ```
 */
export const bankAccount = defineAggregate({
  category: 'account',
  initialState: (): BankAccountState => ({ status: 'unopened', accountId: null, owner: null, balance: 0 }),
  events: bankAccountEvents,
  commands: bankAccountCommands,
  evolve: (state, event): BankAccountState => {
    switch (event.type) {
      case 'AccountOpened':
        return { ...state, status: 'open', accountId: event.data.accountId, owner: event.data.owner };
      case 'MoneyDeposited':
        return { ...state, balance: state.balance + event.data.amount };
      case 'MoneyWithdrawn':
        return { ...state, balance: state.balance - event.data.amount };
      case 'AccountClosed':
        return { ...state, status: 'closed' };
    }
  },
  decide: (command, state) => {
    switch (command.type) {
      case 'OpenAccount':
        // A closed account was opened once too; it reports as closed, which says more.
        if (state.status === 'closed') throw new AccountIsClosed(state.accountId ?? '');
        if (state.status === 'open') throw new AccountAlreadyOpen(state.accountId ?? '');
        return { type: 'AccountOpened', data: command.data };
      case 'DepositMoney':
        assertOpen(state);
        if (state.balance + command.data.amount > maxBalance) {
          throw new BalanceLimitExceeded(state.balance, command.data.amount, maxBalance);
        }
        return { type: 'MoneyDeposited', data: command.data };
      case 'WithdrawMoney':
        assertOpen(state);
        if (command.data.amount > state.balance) throw new InsufficientFunds(state.balance, command.data.amount);
        return { type: 'MoneyWithdrawn', data: command.data };
      case 'CloseAccount':
        assertOpen(state);
        if (state.balance !== 0) throw new BalanceNotZero(state.balance);
        return { type: 'AccountClosed', data: {} };
    }
  },
  snapshots: { every: 50, version: 1 },
});
