import { defineAggregate, DomainError } from 'annals';
import { paymentAccountCommands } from './payment.commands.js';
import { paymentAccountEvents, type DeclineReason } from './payment.events.js';

/** An account is opened once. */
export class PaymentAccountAlreadyOpen extends DomainError {
  constructor(payer: string) {
    super('PAYMENT_ACCOUNT_ALREADY_OPEN', `the payment account of ${payer} is already open`, { payer });
  }
}

/** The payment id was decided before for another amount: a caller reused it. */
export class PaymentIdReused extends DomainError {
  constructor(paymentId: string, amount: number, requested: number) {
    super('PAYMENT_ID_REUSED', `payment ${paymentId} was for ${amount}, not ${requested}`, { paymentId, amount, requested });
  }
}

export interface PaymentAccountState {
  payer: string | null;
  open: boolean;
  /** In cents. */
  creditLimit: number;
  /** Sum of authorized payments, in cents. */
  authorized: number;
  /** Every payment decided on this account, so a repeat is recognized. */
  payments: Record<string, { amount: number; outcome: 'authorized' | DeclineReason }>;
}

/** Credit left for new payments, in cents. */
export function availableCredit(state: PaymentAccountState): number {
  return state.creditLimit - state.authorized;
}

/**
 * A payer's account: stream `payment_account-<payer>`. Payments are authorized against a
 * credit limit and declined beyond it, a rule that depends only on the account's own
 * events, so outcomes are deterministic (and tests make a payment fail by giving a
 * payer a small limit). Declining is an outcome, not an error: the caller follows
 * PaymentAuthorized / PaymentDeclined. It knows payments only by id.
 *
 * @example
 * ```ts
 * await handleCommand(store, paymentAccount, 'ada', { type: 'OpenPaymentAccount', data: { payer: 'ada', creditLimit: 50_000 } });
 * ```
 */
export const paymentAccount = defineAggregate({
  category: 'payment_account',
  initialState: (): PaymentAccountState => ({ payer: null, open: false, creditLimit: 0, authorized: 0, payments: {} }),
  events: paymentAccountEvents,
  commands: paymentAccountCommands,
  evolve: (state, event): PaymentAccountState => {
    switch (event.type) {
      case 'PaymentAccountOpened':
        return { ...state, payer: event.data.payer, open: true, creditLimit: event.data.creditLimit };
      case 'PaymentAuthorized': {
        const { paymentId, amount } = event.data;
        return { ...state, authorized: state.authorized + amount, payments: { ...state.payments, [paymentId]: { amount, outcome: 'authorized' } } };
      }
      case 'PaymentDeclined': {
        const { paymentId, amount, reason } = event.data;
        return { ...state, payments: { ...state.payments, [paymentId]: { amount, outcome: reason } } };
      }
    }
  },
  decide: (command, state) => {
    switch (command.type) {
      case 'OpenPaymentAccount':
        if (state.open) throw new PaymentAccountAlreadyOpen(command.data.payer);
        return { type: 'PaymentAccountOpened', data: command.data };
      case 'AuthorizePayment': {
        const { paymentId, amount } = command.data;
        const decline = (reason: DeclineReason) => ({ type: 'PaymentDeclined' as const, data: { ...command.data, reason } });
        const earlier = state.payments[paymentId];
        // Decided already: the first decision stands (a repeat must not authorize twice).
        if (earlier?.amount === amount) return [];
        if (earlier) throw new PaymentIdReused(paymentId, earlier.amount, amount);
        if (!state.open) return decline('no_account');
        if (amount > availableCredit(state)) return decline('credit_limit_exceeded');
        return { type: 'PaymentAuthorized', data: command.data };
      }
    }
  },
  snapshots: { every: 100, version: 1 },
});
