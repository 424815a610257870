import { ValidationError } from 'annals';
import { aggregateSpec } from 'annals/testing';
import { describe, it } from 'vitest';
import {
  AccountAlreadyOpen,
  AccountIsClosed,
  AccountNotOpen,
  BalanceLimitExceeded,
  BalanceNotZero,
  bankAccount,
  InsufficientFunds,
  maxAmount,
  maxBalance,
} from '../../../domain/bank-account/index.js';

const spec = aggregateSpec(bankAccount);

const opened = { type: 'AccountOpened', data: { accountId: 'acc-1', owner: 'ada' } } as const;
const deposited = (amount: number) => ({ type: 'MoneyDeposited', data: { amount } }) as const;
const withdrawn = (amount: number) => ({ type: 'MoneyWithdrawn', data: { amount } }) as const;
const closed = { type: 'AccountClosed', data: {} } as const;

describe('opening an account', () => {
  it('opens an account nobody has opened', () => {
    spec.given([]).when({ type: 'OpenAccount', data: { accountId: 'acc-1', owner: ' ada ' } }).then([opened]);
  });

  it('refuses to open it twice (ACCOUNT_ALREADY_OPEN)', () => {
    spec
      .given([opened])
      .when({ type: 'OpenAccount', data: { accountId: 'acc-1', owner: 'bob' } })
      .thenThrows(AccountAlreadyOpen, { code: 'ACCOUNT_ALREADY_OPEN', details: { accountId: 'acc-1' } });
  });

  it('refuses to reopen a closed account (ACCOUNT_CLOSED)', () => {
    spec
      .given([opened, closed])
      .when({ type: 'OpenAccount', data: { accountId: 'acc-1', owner: 'ada' } })
      .thenThrows(AccountIsClosed, { code: 'ACCOUNT_CLOSED' });
  });
});

describe('depositing', () => {
  it('deposits into an open account', () => {
    spec.given([opened]).when({ type: 'DepositMoney', data: { amount: 500 } }).then([deposited(500)]);
  });

  it('refuses a deposit before the account is opened (ACCOUNT_NOT_OPEN)', () => {
    spec.given([]).when({ type: 'DepositMoney', data: { amount: 500 } }).thenThrows(AccountNotOpen, { code: 'ACCOUNT_NOT_OPEN' });
  });

  it('refuses a deposit into a closed account (ACCOUNT_CLOSED)', () => {
    spec
      .given([opened, closed])
      .when({ type: 'DepositMoney', data: { amount: 500 } })
      .thenThrows(AccountIsClosed, { code: 'ACCOUNT_CLOSED', details: { accountId: 'acc-1' } });
  });

  it('refuses a deposit that would take the balance past the limit (ACCOUNT_BALANCE_LIMIT_EXCEEDED)', () => {
    const toTheLimit = Array.from({ length: maxBalance / maxAmount }, () => deposited(maxAmount));
    spec.given([opened, ...toTheLimit.slice(1)]).when({ type: 'DepositMoney', data: { amount: maxAmount } }).then([deposited(maxAmount)]);
    spec
      .given([opened, ...toTheLimit])
      .when({ type: 'DepositMoney', data: { amount: 1 } })
      .thenThrows(BalanceLimitExceeded, {
        code: 'ACCOUNT_BALANCE_LIMIT_EXCEEDED',
        details: { balance: maxBalance, amount: 1, limit: maxBalance },
      });
  });
});

describe('withdrawing', () => {
  it('withdraws part of the balance', () => {
    spec.given([opened, deposited(500)]).when({ type: 'WithdrawMoney', data: { amount: 200 } }).then([withdrawn(200)]);
  });

  it('withdraws the whole balance', () => {
    spec.given([opened, deposited(500)]).when({ type: 'WithdrawMoney', data: { amount: 500 } }).then([withdrawn(500)]);
  });

  it('refuses to overdraw, quoting the balance rebuilt from the events (ACCOUNT_INSUFFICIENT_FUNDS)', () => {
    spec
      .given([opened, deposited(100), withdrawn(40), deposited(5)])
      .when({ type: 'WithdrawMoney', data: { amount: 66 } })
      .thenThrows(InsufficientFunds, { code: 'ACCOUNT_INSUFFICIENT_FUNDS', details: { balance: 65, amount: 66 } });
  });

  it('refuses a withdrawal before the account is opened (ACCOUNT_NOT_OPEN)', () => {
    spec.given([]).when({ type: 'WithdrawMoney', data: { amount: 1 } }).thenThrows(AccountNotOpen, { code: 'ACCOUNT_NOT_OPEN' });
  });

  it('refuses a withdrawal from a closed account (ACCOUNT_CLOSED)', () => {
    spec.given([opened, closed]).when({ type: 'WithdrawMoney', data: { amount: 1 } }).thenThrows(AccountIsClosed, { code: 'ACCOUNT_CLOSED' });
  });
});

describe('closing', () => {
  it('closes an account whose balance is zero', () => {
    spec.given([opened, deposited(70), withdrawn(70)]).when({ type: 'CloseAccount', data: {} }).then([closed]);
  });

  it('refuses to close while money is left, so none disappears (ACCOUNT_BALANCE_NOT_ZERO)', () => {
    spec
      .given([opened, deposited(70), withdrawn(69)])
      .when({ type: 'CloseAccount', data: {} })
      .thenThrows(BalanceNotZero, { code: 'ACCOUNT_BALANCE_NOT_ZERO', details: { balance: 1 } });
  });

  it('refuses to close an account never opened (ACCOUNT_NOT_OPEN)', () => {
    spec.given([]).when({ type: 'CloseAccount', data: {} }).thenThrows(AccountNotOpen, { code: 'ACCOUNT_NOT_OPEN' });
  });

  it('refuses to close it twice (ACCOUNT_CLOSED)', () => {
    spec.given([opened, closed]).when({ type: 'CloseAccount', data: {} }).thenThrows(AccountIsClosed, { code: 'ACCOUNT_CLOSED' });
  });
});

describe('amounts are whole, positive numbers of minor units, up to a limit', () => {
  it.each([0, -5, 1.5, maxAmount + 1, Number.NaN])('refuses %s before any rule runs', (amount) => {
    for (const type of ['DepositMoney', 'WithdrawMoney'] as const) {
      spec
        .given([opened, deposited(500)])
        .when({ type, data: { amount } })
        .thenThrows(ValidationError, { field: 'command.data.amount' });
    }
  });

  it('accepts the largest amount', () => {
    spec.given([opened]).when({ type: 'DepositMoney', data: { amount: maxAmount } }).then([deposited(maxAmount)]);
  });
});
