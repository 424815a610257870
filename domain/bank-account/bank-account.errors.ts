import { DomainError } from 'annals';

/** The stable codes of the rules a bank account enforces; callers branch on these. */
export const accountErrorCodes = {
  alreadyOpen: 'ACCOUNT_ALREADY_OPEN',
  notOpen: 'ACCOUNT_NOT_OPEN',
  closed: 'ACCOUNT_CLOSED',
  insufficientFunds: 'ACCOUNT_INSUFFICIENT_FUNDS',
  balanceNotZero: 'ACCOUNT_BALANCE_NOT_ZERO',
  balanceLimitExceeded: 'ACCOUNT_BALANCE_LIMIT_EXCEEDED',
} as const;

/** An account is opened once; a second OpenAccount would overwrite its owner. */
export class AccountAlreadyOpen extends DomainError {
  constructor(accountId: string) {
    super(accountErrorCodes.alreadyOpen, `account ${accountId} is already open`, { accountId });
  }
}

/** Money cannot move in or out of an account nobody has opened. */
export class AccountNotOpen extends DomainError {
  constructor() {
    super(accountErrorCodes.notOpen, 'the account has not been opened');
  }
}

/** Closing is final: a closed account takes no deposit, withdrawal, or reopening. */
export class AccountIsClosed extends DomainError {
  constructor(accountId: string) {
    super(accountErrorCodes.closed, `account ${accountId} is closed`, { accountId });
  }
}

/** No overdraft: a withdrawal may take at most the balance. */
export class InsufficientFunds extends DomainError {
  constructor(balance: number, amount: number) {
    super(accountErrorCodes.insufficientFunds, `balance ${balance} is less than ${amount}`, { balance, amount });
  }
}

/** Money must not vanish with a closed account: pay it out first. */
export class BalanceNotZero extends DomainError {
  constructor(balance: number) {
    super(accountErrorCodes.balanceNotZero, `the balance is ${balance}; withdraw it before closing`, { balance });
  }
}

/** Keeps every balance an exact integer (see `maxBalance`). */
export class BalanceLimitExceeded extends DomainError {
  constructor(balance: number, amount: number, limit: number) {
    super(accountErrorCodes.balanceLimitExceeded, `a deposit of ${amount} on ${balance} would pass the limit of ${limit}`, {
      balance,
      amount,
      limit,
    });
  }
}
