import { describe, expect, it } from 'vitest';
import { catchUpConsumers, consumerStatus, defineConsumer, listDeadLetters, ValidationError, type EventStore, type RecordedEvent } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';
import { appendInterleaved, sortedIds } from './support/log.js';

const store: EventStore = await createTestStore('consumers_appends');
const retries = { attempts: 2, minDelayMs: 1, maxDelayMs: 5 };

/** The follow-ups in the log, by the id of the event that caused each. */
async function followUpsByCause(category: string): Promise<Map<string, number>> {
  const events = await store.readAll<RecordedEvent<string, { cause: string }>>({ categories: [category] });
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.data.cause, (counts.get(event.data.cause) ?? 0) + 1);
  return counts;
}

describe('a consumer that appends in its transaction', () => {
  // Catches: a batch of a consumer with `appends: true` opened with `{ appends: false }`
  // (every append refused); appends that commit apart from the checkpoint (the batch
  // that failed after appending would leave its follow-up, and the retry append a
  // second one); a follow-up not visible to readers once its batch committed.
  it('with appends: true, appends one follow-up per event, exactly once, even when a batch failed after appending', async () => {
    const placed = await appendInterleaved(store, ['apo-1', 'apo-2', 'apo-3'], 2, { type: 'OrderPlaced' });
    let failed = false;
    const processManager = defineConsumer({
      name: 'appends-pm',
      categories: ['apo'],
      appends: true,
      batchSize: 10,
      handle: async (events, { tx }) => {
        for (const event of events) {
          // No event id given: only the transaction keeps a retry from appending twice.
          await tx.appendToStream(`apf-${event.streamId}`, [{ type: 'FollowUpSent', data: { cause: event.id } }]);
        }
        if (!failed && events.length > 0) {
          failed = true;
          throw new Error('failing after appending');
        }
      },
    });

    await catchUpConsumers(store, [processManager], { retries });

    expect(failed).toBe(true);
    const followUps = await followUpsByCause('apf');
    expect([...followUps.keys()].sort()).toEqual(sortedIds(placed));
    expect([...followUps.values()].every((count) => count === 1)).toBe(true);
    expect(await listDeadLetters(store, { projection: 'appends-pm' })).toEqual([]);

    // Nothing new: nothing appended again.
    await catchUpConsumers(store, [processManager], { retries });
    expect([...(await followUpsByCause('apf')).values()].reduce((a, b) => a + b, 0)).toBe(placed.length);
  });

  // What the product does with an append in a consumer that did not declare `appends`:
  // the store refuses it with a ValidationError (options.appends); the engine treats it
  // as any handler error: retried, then dead-lettered (the default onFailure), and the
  // consumer goes on. Catches: the append let through (it could then be skipped by
  // readers of the log, docs/global-log.md), or the refusal lost (the event handled as
  // if it had succeeded: checkpoint moved, no dead letter).
  it('without appends, has each append refused with a ValidationError on options.appends, retried then dead-lettered', async () => {
    const placed = await appendInterleaved(store, ['apn-1', 'apn-2'], 1, { type: 'OrderPlaced' });
    const refusals: unknown[] = [];
    const undeclared = defineConsumer({
      name: 'appends-undeclared',
      categories: ['apn'],
      handle: async (events, { tx }) => {
        for (const event of events) {
          try {
            await tx.appendToStream(`apg-${event.streamId}`, [{ type: 'FollowUpSent', data: { cause: event.id } }]);
          } catch (error) {
            refusals.push(error);
            throw error;
          }
        }
      },
    });

    await catchUpConsumers(store, [undeclared], { retries });

    expect(refusals.length).toBeGreaterThanOrEqual(placed.length * retries.attempts);
    for (const refusal of refusals) {
      expect(refusal).toBeInstanceOf(ValidationError);
      expect((refusal as ValidationError).field).toBe('options.appends');
    }
    expect(await followUpsByCause('apg')).toEqual(new Map());
    const letters = await listDeadLetters(store, { projection: 'appends-undeclared' });
    expect(letters.map((letter) => letter.eventId).sort()).toEqual(sortedIds(placed));
    for (const letter of letters) {
      expect(letter.attempts).toBe(retries.attempts);
      expect(letter.error).toContain('ValidationError: options.appends');
    }
    const status = await consumerStatus(store, [undeclared]);
    expect(status.pendingDeadLetters).toEqual({ 'appends-undeclared': placed.length });
    expect(status.partitions[0]!.deadLettered).toBe(placed.length);
    expect(status.partitions[0]!.position).toBe(status.head);
  });
});
