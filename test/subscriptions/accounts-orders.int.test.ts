import { describe, expect, it } from 'vitest';
import { handleCommand, waitForProjections } from '../../src/index.js';
import { accountBalances } from '../../projections/account-balances/account-balances.projection.js';
import { eventually } from '../setup/database.js';
import { bankAccount } from '../../domain/bank-account/index.js';
import { order } from '../../domain/orders/order/order.aggregate.js';
import { wsClient } from './support/ws-client.js';
import { subscribersOf, testbed, unique } from './support/testbed.js';

const bed = await testbed('sub_bank');

interface AccountBalance {
  accountBalance: { accountId: string; owner: string; status: string; balance: string; position: string };
}
interface OrderStatus {
  orderStatus: { orderId: string; status: string; cancellationReason: string | null; total: string; position: string };
}

const accountBalance = 'subscription($id: ID!, $a: String) { accountBalance(accountId: $id, after: $a) { accountId owner status balance position } }';
const orderStatus =
  'subscription($id: ID!, $a: String, $s: [String!]) { orderStatus(orderId: $id, after: $a, statuses: $s) { orderId status cancellationReason total position } }';

describe('accountBalance', () => {
  it('pushes nothing for an account nobody opened, then its balance after it is opened and after each deposit and withdrawal, and its close', async () => {
    await bed.runWorkers();
    const store = await bed.newStore();
    const { url } = await bed.startService({ store });
    const id = unique('acc');
    const account = wsClient(url).subscribe<AccountBalance>(accountBalance, { id });
    // Subscribed before the account exists: its first push is the opening.
    await eventually(async () => expect(subscribersOf(store)).toBe(1));
    const command = (type: string, data: object) => handleCommand(bed.store, bankAccount, id, { type, data } as never);
    const opened = await command('OpenAccount', { accountId: id, owner: 'ada' });
    await account.waitFor((values) => values.length === 1, 'the account opened');
    expect(account.values[0]!.accountBalance).toEqual({ accountId: id, owner: 'ada', status: 'open', balance: '0', position: String(opened.globalPosition) });
    const positions: bigint[] = [];
    for (const [type, amount] of [['DepositMoney', 5000], ['WithdrawMoney', 1200], ['DepositMoney', 700], ['WithdrawMoney', 4500]] as const) {
      positions.push((await command(type, { amount })).globalPosition!);
      await account.waitFor((values) => values.at(-1)!.accountBalance.position === String(positions.at(-1)), `after ${type}`);
    }
    positions.push((await command('CloseAccount', {})).globalPosition!);
    await account.waitFor((values) => values.at(-1)!.accountBalance.status === 'closed', 'the close');
    expect(account.values.slice(1).map(({ accountBalance: a }) => [a.balance, a.status, a.position])).toEqual([
      ['5000', 'open', String(positions[0])],
      ['3800', 'open', String(positions[1])],
      ['4500', 'open', String(positions[2])],
      ['0', 'open', String(positions[3])],
      ['0', 'closed', String(positions[4])],
    ]);
  });

  it('gives a reconnecting client the balance as of the last change it missed, once', async () => {
    await bed.runWorkers();
    const { url } = await bed.startService();
    const id = unique('acc');
    await handleCommand(bed.store, bankAccount, id, { type: 'OpenAccount', data: { accountId: id, owner: 'bob' } });
    const first = await handleCommand(bed.store, bankAccount, id, { type: 'DepositMoney', data: { amount: 100 } });
    const missed = [
      await handleCommand(bed.store, bankAccount, id, { type: 'DepositMoney', data: { amount: 20 } }),
      await handleCommand(bed.store, bankAccount, id, { type: 'WithdrawMoney', data: { amount: 50 } }),
    ];
    await waitForProjections(bed.store, [accountBalances], missed[1]!.globalPosition!);
    const again = wsClient(url).subscribe<AccountBalance>(accountBalance, { id, a: String(first.globalPosition) });
    await again.waitFor((values) => values.length === 1, 'what was missed');
    expect(again.values[0]!.accountBalance).toEqual(expect.objectContaining({ balance: '70', position: String(missed[1]!.globalPosition) }));
  });
});

describe('orderStatus', () => {
  const place = (id: string) =>
    handleCommand(bed.store, order, id, { type: 'PlaceOrder', data: { orderId: id, customerId: 'ada', lines: [{ sku: 'pen', quantity: 2, unitPrice: 150 }] } });

  it('pushes each status, and with statuses only those, evaluated against the projected row', async () => {
    await bed.runWorkers();
    const store = await bed.newStore();
    const { url } = await bed.startService({ store });
    const [confirmedId, cancelledId] = [unique('o'), unique('o')];
    const client = wsClient(url);
    const every = client.subscribe<OrderStatus>(orderStatus, { id: confirmedId });
    const settled = client.subscribe<OrderStatus>(orderStatus, { id: confirmedId, s: ['confirmed', 'cancelled'] });
    const cancelledSettled = client.subscribe<OrderStatus>(orderStatus, { id: cancelledId, s: ['confirmed', 'cancelled'] });
    // Subscribed before the orders exist: each push is a change.
    await eventually(async () => expect(subscribersOf(store)).toBe(3));

    await place(confirmedId);
    await every.waitFor((values) => values.length === 1, 'placed');
    await handleCommand(bed.store, order, confirmedId, { type: 'MarkOrderStockReserved', data: { orderId: confirmedId, reservationId: 'r1' } });
    await every.waitFor((values) => values.length === 2, 'stock reserved');
    const confirmed = await handleCommand(bed.store, order, confirmedId, { type: 'ConfirmOrder', data: { orderId: confirmedId, paymentId: 'pay1' } });
    await every.waitFor((values) => values.length === 3, 'confirmed');
    await settled.waitFor((values) => values.length === 1, 'confirmed, through the filter');
    expect(every.values.map((value) => value.orderStatus.status)).toEqual(['placed', 'stock_reserved', 'confirmed']);
    expect(settled.values).toEqual([
      { orderStatus: { orderId: confirmedId, status: 'confirmed', cancellationReason: null, total: '300', position: String(confirmed.globalPosition) } },
    ]);

    await place(cancelledId);
    await handleCommand(bed.store, order, cancelledId, { type: 'CancelOrder', data: { orderId: cancelledId, reason: 'out of stock' } });
    await cancelledSettled.waitFor((values) => values.length === 1, 'cancelled');
    expect(cancelledSettled.values[0]!.orderStatus).toEqual(expect.objectContaining({ status: 'cancelled', cancellationReason: 'out of stock' }));
  });

  it('refuses a status that is not one, naming it', async () => {
    const { url } = await bed.startService();
    const refused = wsClient(url).subscribe<OrderStatus>(orderStatus, { id: 'o-1', s: ['confirmed', 'shipped'] });
    await refused.waitForEnd();
    expect(refused.errors[0]!.extensions).toEqual(
      expect.objectContaining({ code: 'BAD_USER_INPUT', issues: [{ field: 'statuses[1]', reason: 'must be one of placed, stock_reserved, confirmed, cancelled' }] }),
    );
  });
});
