import { randomUUID } from 'node:crypto';
import { aggregateStream, DomainError, handleCommand, loadAggregate, type EventStore } from 'annals';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { bankAccount } from '../../../domain/bank-account/index.js';
import { createTestStore } from '../../setup/database.js';
import { commandSequences, runCommands, type AccountCommand } from './command-sequences.js';

// At the top level: the helper registers the file's clean-up hooks.
const store: EventStore = await createTestStore('bank_property');

// Long enough to pass the 50-event snapshot boundary, so loadAggregate starts from one.
const pastASnapshot: AccountCommand[] = [
  { type: 'OpenAccount', data: { accountId: 'acc', owner: 'ada' } },
  ...Array.from({ length: 60 }, (_, i): AccountCommand => ({ type: 'DepositMoney', data: { amount: i + 1 } })),
  { type: 'WithdrawMoney', data: { amount: 10_000 } },
  { type: 'WithdrawMoney', data: { amount: 1_000 } },
];

it('through the real store, the replayed stream equals the in-memory fold of the same commands', async () => {
  await fc.assert(
    fc.asyncProperty(commandSequences(80), async (commands) => {
      const id = randomUUID();
      const expected = runCommands(commands);
      for (const [index, command] of commands.entries()) {
        const outcome = await handleCommand(store, bankAccount, id, command).then(
          (result) => result.events.map(({ type, data }) => ({ type, data })),
          (error: unknown) => {
            if (!(error instanceof DomainError)) throw error;
            return error.code;
          },
        );
        const step = expected.steps[index]!;
        expect(outcome).toEqual(step.refused ?? step.events);
      }
      const eventCount = expected.steps.reduce((count, step) => count + step.events.length, 0);
      const replayed = await aggregateStream(store, bankAccount, id);
      expect(replayed).toEqual({ state: expected.state, version: eventCount });
      expect(await loadAggregate(store, bankAccount, id)).toEqual({ state: expected.state, version: eventCount });
    }),
    { numRuns: 15, examples: [[pastASnapshot]] },
  );
  // The example above really did go through a snapshot.
  const snapshots = await store.withTransaction((tx) => tx.query(`SELECT 1 FROM "${store.schema}".snapshots`));
  expect(snapshots.length).toBeGreaterThan(0);
});
