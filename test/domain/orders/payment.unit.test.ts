import { aggregateSpec } from 'annals/testing';
import { describe, it } from 'vitest';
import { PaymentAccountAlreadyOpen, PaymentIdReused, paymentAccount } from '../../../domain/orders/payment/payment-account.aggregate.js';

const spec = aggregateSpec(paymentAccount);
const opened = { type: 'PaymentAccountOpened', data: { payer: 'ada', creditLimit: 1000 } } as const;
const authorize = (paymentId: string, amount: number) => ({ type: 'AuthorizePayment', data: { paymentId, payer: 'ada', amount } }) as const;
const authorized = (paymentId: string, amount: number) => ({ type: 'PaymentAuthorized', data: { paymentId, payer: 'ada', amount } }) as const;
const declined = (paymentId: string, amount: number, reason: 'credit_limit_exceeded' | 'no_account') =>
  ({ type: 'PaymentDeclined', data: { paymentId, payer: 'ada', amount, reason } }) as const;

describe('a payment account', () => {
  it('opens once', () => {
    spec.given([]).when({ type: 'OpenPaymentAccount', data: { payer: 'ada', creditLimit: 1000 } }).then([opened]);
    spec
      .given([opened])
      .when({ type: 'OpenPaymentAccount', data: { payer: 'ada', creditLimit: 5 } })
      .thenThrows(PaymentAccountAlreadyOpen, { code: 'PAYMENT_ACCOUNT_ALREADY_OPEN' });
  });

  it('authorizes payments up to the credit limit, and declines beyond what is left', () => {
    spec.given([opened]).when(authorize('p-1', 1000)).then([authorized('p-1', 1000)]);
    spec.given([opened, authorized('p-1', 600)]).when(authorize('p-2', 400)).then([authorized('p-2', 400)]);
    spec.given([opened, authorized('p-1', 600)]).when(authorize('p-2', 401)).then([declined('p-2', 401, 'credit_limit_exceeded')]);
  });

  it('does not count declined payments against the limit', () => {
    spec.given([opened, declined('p-1', 5000, 'credit_limit_exceeded')]).when(authorize('p-2', 1000)).then([authorized('p-2', 1000)]);
  });

  it('declines payments of a payer without an account', () => {
    spec.given([]).when(authorize('p-1', 1)).then([declined('p-1', 1, 'no_account')]);
  });

  it('decides each payment once: a repeat is nothing, even when the answer would now differ', () => {
    spec.given([opened, authorized('p-1', 1000)]).when(authorize('p-1', 1000)).thenNothing();
    spec.given([opened, declined('p-1', 2000, 'credit_limit_exceeded')]).when(authorize('p-1', 2000)).thenNothing();
    spec.given([declined('p-1', 10, 'no_account'), opened]).when(authorize('p-1', 10)).thenNothing();
  });

  it('refuses a payment id reused for another amount', () => {
    spec
      .given([opened, authorized('p-1', 100)])
      .when(authorize('p-1', 200))
      .thenThrows(PaymentIdReused, { code: 'PAYMENT_ID_REUSED', details: { paymentId: 'p-1', amount: 100, requested: 200 } });
  });
});
