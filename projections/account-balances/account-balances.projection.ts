import { sql } from 'kysely';
import { defineProjection } from 'annals';
import { bankAccount, bankAccountEvents } from '../../domain/bank-account/index.js';

/** `account-42` → `42`: the id the account's commands were handled with. */
export function accountIdOf(streamId: string): string {
  return streamId.slice(bankAccount.streamId('').length);
}

/**
 * Balance and status per bank account: `account_balances(account_id, owner, status,
 * balance, version)`. `balance` is in minor units (bigint: balances go up to 10^15);
 * `version` is the stream version of the last event applied.
 *
 * Every write is guarded by `version`: an event at or below the row's version was
 * applied already, so delivering it again (a checkpoint moved back, a dead letter
 * retried twice) adds nothing to the balance.
 *
 * Balances and statements are two projections, not one with two tables: they answer
 * different questions and change at different paces, and a change to the statements'
 * shape should not make every balance be rebuilt (or the other way round).
 *
 * @example
 * ```ts
 * const account = await db.withSchema(readSchemaOf(store.schema, accountBalances)).selectFrom('account_balances')
 *   .selectAll().where('account_id', '=', 'acc-1').executeTakeFirst();
 * ```
 */
export const accountBalances = defineProjection({
  name: 'account-balances',
  version: 1,
  // The owner's name, per account: checked by `annals privacy verify` (docs/privacy.md).
  personalData: [{ table: 'account_balances', subject: 'account_id', columns: ['owner'] }],
  events: bankAccountEvents,
  categories: [bankAccount.category],
  schema: async (db) => {
    await db.schema
      .createTable('account_balances')
      .addColumn('account_id', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status IN ('open', 'closed')`))
      .addColumn('balance', 'bigint', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .execute();
  },
  apply: async (event, { db }) => {
    const accountId = accountIdOf(event.streamId);
    if (event.type === 'AccountOpened') {
      await db
        .insertInto('account_balances')
        .values({ account_id: accountId, owner: event.data.owner, status: 'open', balance: 0, version: event.version })
        .onConflict((oc) => oc.column('account_id').doNothing())
        .execute();
      return;
    }
    const change =
      event.type === 'MoneyDeposited'
        ? { balance: sql`balance + ${event.data.amount}::bigint` }
        : event.type === 'MoneyWithdrawn'
          ? { balance: sql`balance - ${event.data.amount}::bigint` }
          : { status: 'closed' };
    await db
      .updateTable('account_balances')
      .set({ ...change, version: event.version })
      .where('account_id', '=', accountId)
      .where('version', '<', event.version)
      .execute();
  },
});
