import { defineProjection } from 'annals';
import { bankAccount, bankAccountEvents } from '../../domain/bank-account/index.js';
import { accountIdOf } from '../account-balances/account-balances.projection.js';

/**
 * Bank statements: `account_statements(account_id, version, kind, amount, balance_after,
 * recorded_at)`, one row per deposit or withdrawal with the balance it left, in minor
 * units. Keyed by the event's place in its stream, so an event delivered again finds its
 * row and changes nothing.
 *
 * A separate projection from account-balances (see there): a statement line needs only
 * the line before it, read from this projection's own table.
 *
 * @example
 * ```ts
 * const lines = await db.withSchema(readSchemaOf(store.schema, accountStatements)).selectFrom('account_statements')
 *   .selectAll().where('account_id', '=', 'acc-1').orderBy('version').execute();
 * ```
 */
export const accountStatements = defineProjection({
  name: 'account-statements',
  version: 1,
  events: { MoneyDeposited: bankAccountEvents.MoneyDeposited, MoneyWithdrawn: bankAccountEvents.MoneyWithdrawn },
  categories: [bankAccount.category],
  schema: async (db) => {
    await db.schema
      .createTable('account_statements')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('amount', 'bigint', (c) => c.notNull())
      .addColumn('balance_after', 'bigint', (c) => c.notNull())
      .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('account_statements_pkey', ['account_id', 'version'])
      .execute();
  },
  apply: async (event, { db }) => {
    const accountId = accountIdOf(event.streamId);
    // The line before this one, not the newest: an event applied after later ones (a
    // dead letter retried) gets the balance it really left. The later lines stay off by
    // its amount until a rebuild; delivered again, an event finds its own line and stops.
    const previous = await db
      .selectFrom('account_statements')
      .select('balance_after')
      .where('account_id', '=', accountId)
      .where('version', '<', event.version)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    const amount = event.type === 'MoneyDeposited' ? event.data.amount : -event.data.amount;
    await db
      .insertInto('account_statements')
      .values({
        account_id: accountId,
        version: event.version,
        kind: event.type === 'MoneyDeposited' ? 'deposit' : 'withdrawal',
        amount: event.data.amount,
        // pg returns bigint as a string; balances stay below 2^53 (maxBalance), so exact.
        balance_after: Number(previous?.balance_after ?? 0) + amount,
        recorded_at: event.recordedAt,
      })
      .onConflict((oc) => oc.columns(['account_id', 'version']).doNothing())
      .execute();
  },
});
