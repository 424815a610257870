import { afterAll, describe, expect, it } from 'vitest';
import {
  catchUpConsumers,
  ConsumerStoppedError,
  consumerStatus,
  createEventStore,
  DeadLetterError,
  defineConsumer,
  partitionOfKey,
  setupProjection,
  ValidationError,
  type ConsumerMode,
  type EventStore,
} from '../../src/index.js';
import {
  listConsumerDeadLetters,
  resumeConsumer,
  retryConsumerDeadLetter,
  skipConsumerDeadLetter,
} from '../../src/consumers/consumer-dead-letters.js';
import { recordDeadLetter } from '../../src/consumers/dead-letters.js';
import { createTestStore } from '../setup/database.js';
import { likeCountsProjection } from '../projections/support/like-counts.js';
import { createHandledTable, readHandled, recordHandled } from './support/handled-table.js';
import { appendInterleaved, sortedIds } from './support/log.js';

// Every case on both backends: what runs on PGlite (npm start) is tested on PGlite too.
const postgres: EventStore = await createTestStore('consumer_dead_letters');
const pglite = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
afterAll(() => pglite.close());
await pglite.migrate();

const retries = { attempts: 2, minDelayMs: 1, maxDelayMs: 5 };

/** The handler's own failure, so a test can tell it from anything the kit throws. */
class Refused extends Error {}

/** What the handler did: one call per event, with whether it had a transaction. */
interface Call {
  eventId: string;
  tx: boolean;
  partition: number;
}

/** What a test changes while the consumer runs: which events fail, what happens during a call. */
interface Hooks {
  broken: Set<string>;
  during?: () => Promise<void>;
}

/**
 * A consumer of category `name` (two partitions) whose handler records each event (in
 * `name`'s table, in mode `transaction`) and then fails on the broken ones; run over two
 * streams of three events until stream a's second event is dead-lettered (or stops its
 * partition).
 */
async function scenario(store: EventStore, name: string, options: { mode?: ConsumerMode; onFailure?: 'dead-letter' | 'stop' } = {}) {
  await createHandledTable(store, name);
  const appended = await appendInterleaved(store, [`${name}-a`, `${name}-b`], 3);
  const culprit = appended.find((event) => event.streamId === `${name}-a` && event.version === 2)!;
  const hooks: Hooks = { broken: new Set([culprit.id]) };
  const calls: Call[] = [];
  const consumer = defineConsumer({
    name,
    mode: options.mode ?? 'transaction',
    categories: [name],
    partitions: 2,
    handle: async (events, { tx, partition }) => {
      for (const event of events) {
        calls.push({ eventId: event.id, tx: tx !== undefined, partition });
        if (tx) await recordHandled(tx, name, [event], { partition, worker: 'test' });
        await hooks.during?.();
        if (hooks.broken.has(event.id)) throw new Refused(`refusing ${event.streamId}@${event.version}`);
      }
    },
  });
  const run = catchUpConsumers(store, [consumer], { retries, onFailure: options.onFailure ?? 'dead-letter' });
  if (options.onFailure === 'stop') await expect(run).rejects.toBeInstanceOf(ConsumerStoppedError);
  else await run;
  const letters = await listConsumerDeadLetters(store, { consumer: name });
  calls.length = 0;
  return { consumer, appended, culprit, hooks, calls, letter: letters[0]! };
}

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);
const handledIds = async (store: EventStore, table: string) => (await readHandled(store, table)).map((row) => row.eventId);

describe.each([
  ['postgres', postgres],
  ['pglite', pglite],
])('dead letters of a consumer (%s)', (_backend, store) => {
  // Catches: a list that misses the consumer's dead letter or its fields, shows resolved
  // ones by default, or does not filter by consumer and status.
  it('are listed oldest first: pending by default, by consumer and by status', async () => {
    const { culprit, letter } = await scenario(store, 'dllist');
    expect(letter).toMatchObject({
      consumer: 'dllist',
      generation: 1,
      partition: partitionOfKey('dllist-a', 2),
      eventId: culprit.id,
      streamId: 'dllist-a',
      streamVersion: 2,
      globalPosition: culprit.globalPosition,
      attempts: 2,
      status: 'pending',
      resolvedAt: null,
    });
    expect(letter.error).toContain('refusing dllist-a@2');
    expect((await listConsumerDeadLetters(store)).map((l) => l.id)).toContain(letter.id);
    expect(await listConsumerDeadLetters(store, { consumer: 'dllist', status: 'retried' })).toEqual([]);
    expect(await listConsumerDeadLetters(store, { consumer: 'nobody', status: 'all' })).toEqual([]);
    await skipConsumerDeadLetter(store, letter.id);
    expect(await listConsumerDeadLetters(store, { consumer: 'dllist' })).toEqual([]);
    expect((await listConsumerDeadLetters(store, { consumer: 'dllist', status: 'all' })).map((l) => l.status)).toEqual(['skipped']);
  });

  // Catches: a retry outside a transaction (or in another one than the mark's), on the
  // wrong partition, that does not mark the dead letter, or that can run twice.
  it("in mode 'transaction', are retried with the handler in the transaction that marks them retried", async () => {
    const { consumer, appended, culprit, hooks, calls, letter } = await scenario(store, 'dltx');
    hooks.broken.clear();
    const retried = await retryConsumerDeadLetter(store, [consumer], letter.id);
    expect(retried).toMatchObject({ id: letter.id, consumer: 'dltx', eventId: culprit.id, status: 'retried' });
    expect(retried.resolvedAt).toBeInstanceOf(Date);
    expect(calls).toEqual([{ eventId: culprit.id, tx: true, partition: letter.partition }]);
    expect((await handledIds(store, 'dltx')).sort()).toEqual(sortedIds(appended));
    expect(await listConsumerDeadLetters(store, { consumer: 'dltx' })).toEqual([]);
    const again = await rejection(retryConsumerDeadLetter(store, [consumer], letter.id));
    expect(again).toBeInstanceOf(DeadLetterError);
    expect((again as DeadLetterError).message).toContain('already retried');
    expect(calls).toHaveLength(1);
  });

  // Catches: a failing retry whose writes commit, that marks the dead letter anyway, or
  // that hides the handler's error behind one of the kit's.
  it("in mode 'transaction', stay pending when the retry fails: its writes roll back and the handler's error is thrown", async () => {
    const { consumer, culprit, hooks, calls, letter } = await scenario(store, 'dltxfail');
    const error = await rejection(retryConsumerDeadLetter(store, [consumer], letter.id));
    expect(error).toBeInstanceOf(Refused);
    expect((error as Error).message).toBe('refusing dltxfail-a@2');
    expect(calls.map((call) => call.eventId)).toEqual([culprit.id]);
    expect(await handledIds(store, 'dltxfail')).not.toContain(culprit.id);
    expect(await listConsumerDeadLetters(store, { consumer: 'dltxfail' })).toEqual([letter]);

    hooks.broken.clear();
    expect((await retryConsumerDeadLetter(store, [consumer], letter.id)).status).toBe('retried');
    expect(await handledIds(store, 'dltxfail')).toContain(culprit.id);
  });

  // Catches: a retry that does not hold the dead letter while its handler runs: a skip
  // in between would succeed, and the retry's mark would then overwrite it (both won).
  it("in mode 'transaction', a skip during a retry waits for it, then finds the dead letter retried", async () => {
    const { consumer, hooks, letter } = await scenario(store, 'dlrace');
    hooks.broken.clear();
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    hooks.during = () => {
      entered();
      return new Promise<void>((resolve) => (release = resolve));
    };
    const retry = retryConsumerDeadLetter(store, [consumer], letter.id);
    await inHandler;
    let skipSettled = false;
    const skip = rejection(skipConsumerDeadLetter(store, letter.id)).finally(() => (skipSettled = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(skipSettled).toBe(false);
    release();
    expect((await retry).status).toBe('retried');
    const skipError = await skip;
    expect(skipError).toBeInstanceOf(DeadLetterError);
    expect((skipError as DeadLetterError).message).toContain('already retried');
  });

  // Catches: a handler given a transaction in this mode, a mark committed before the
  // handler's work (a crash then would lose the event), and a failed delivery marked.
  it("in mode 'at-least-once', are handled outside any transaction and marked after: a failure in between delivers again, never loses", async () => {
    const { consumer, culprit, hooks, calls, letter } = await scenario(store, 'dlalo', { mode: 'at-least-once' });
    // The handler delivers, then fails: as if the process died before the mark.
    const error = await rejection(retryConsumerDeadLetter(store, [consumer], letter.id));
    expect(error).toBeInstanceOf(Refused);
    expect((await listConsumerDeadLetters(store, { consumer: 'dlalo' })).map((l) => l.status)).toEqual(['pending']);

    hooks.broken.clear();
    const seen: string[] = [];
    hooks.during = async () => {
      seen.push(...(await listConsumerDeadLetters(store, { consumer: 'dlalo', status: 'all' })).map((l) => l.status));
    };
    const retried = await retryConsumerDeadLetter(store, [consumer], letter.id);
    expect(retried).toMatchObject({ id: letter.id, status: 'retried' });
    expect(seen).toEqual(['pending']);
    expect(calls).toEqual([
      { eventId: culprit.id, tx: false, partition: letter.partition },
      { eventId: culprit.id, tx: false, partition: letter.partition },
    ]);
  });

  // Catches: a skip that does not record itself, can be repeated, or leaves the dead
  // letter retryable (its event handled after the user gave up on it).
  it('are skipped once, and a skipped one is never handled', async () => {
    const { consumer, calls, letter } = await scenario(store, 'dlskip');
    const skipped = await skipConsumerDeadLetter(store, letter.id);
    expect(skipped).toMatchObject({ id: letter.id, status: 'skipped' });
    expect(skipped.resolvedAt).toBeInstanceOf(Date);
    for (const attempt of [() => skipConsumerDeadLetter(store, letter.id), () => retryConsumerDeadLetter(store, [consumer], letter.id)]) {
      const error = await rejection(attempt());
      expect(error).toBeInstanceOf(DeadLetterError);
      expect(error).toMatchObject({ id: letter.id, code: 'ANNALS_DEAD_LETTER' });
      expect((error as Error).message).toContain('already skipped');
    }
    expect(calls).toEqual([]);
  });

  // Catches: a resume that does not clear the stop, or clears it without the partition
  // going on from the event that stopped it; a typo'd name resuming nothing silently.
  it("resume the partition a failure stopped (onFailure: 'stop'), from the event that stopped it", async () => {
    const { consumer, appended, culprit, hooks, letter } = await scenario(store, 'dlstop', { onFailure: 'stop' });
    expect(letter).toBeUndefined();
    const stopped = (await consumerStatus(store, [consumer])).partitions.filter((p) => p.stoppedError !== null);
    expect(stopped.map((p) => p.partition)).toEqual([partitionOfKey('dlstop-a', 2)]);
    expect(await handledIds(store, 'dlstop')).not.toContain(culprit.id);

    hooks.broken.clear();
    expect(await resumeConsumer(store, 'dlstop')).toBe(1);
    expect((await consumerStatus(store, [consumer])).partitions.every((p) => p.stoppedError === null)).toBe(true);
    await catchUpConsumers(store, [consumer], { retries, onFailure: 'stop' });
    expect((await handledIds(store, 'dlstop')).sort()).toEqual(sortedIds(appended));
    expect(await resumeConsumer(store, 'dlstop')).toBe(0);
  });

  // Catches: bad input reaching the database (a cast error instead of a typed one), or a
  // ValidationError that does not say which field.
  it('refuse bad input with a ValidationError naming the field', async () => {
    const { consumer, letter } = await scenario(store, 'dlinput');
    const cases: [() => Promise<unknown>, string][] = [
      [() => retryConsumerDeadLetter(store, [consumer], ''), 'id'],
      [() => retryConsumerDeadLetter(store, [consumer], 'abc'), 'id'],
      [() => retryConsumerDeadLetter(store, [consumer], 5 as unknown as string), 'id'],
      [() => retryConsumerDeadLetter(store, [consumer, consumer], letter.id), 'consumers[1].name'],
      [() => retryConsumerDeadLetter(store, 'dlinput' as never, letter.id), 'consumers'],
      [() => skipConsumerDeadLetter(store, ''), 'id'],
      [() => skipConsumerDeadLetter(store, '12a'), 'id'],
      [() => listConsumerDeadLetters(store, { status: 'bogus' as never }), 'options.status'],
      [() => listConsumerDeadLetters(store, { consumer: '' }), 'options.consumer'],
      [() => listConsumerDeadLetters(store, { limit: 0 }), 'options.limit'],
      [() => resumeConsumer(store, ''), 'name'],
      [() => resumeConsumer(store, 'never-ran'), 'name'],
    ];
    for (const [attempt, field] of cases) {
      const error = await rejection(attempt());
      expect(error, field).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    expect((await listConsumerDeadLetters(store, { consumer: 'dlinput' })).map((l) => l.status)).toEqual(['pending']);
  });

  // Catches: a retry that hands an event to a handler it is not for (another consumer's,
  // a projection's dead letter), or fails with an untyped error on an unknown id.
  it('refuse an unknown id, a consumer not given, a projection, an event gone, with DeadLetterError', async () => {
    const { consumer, calls, letter } = await scenario(store, 'dlwrong');
    const other = defineConsumer({ name: 'dlwrong-other', handle: async () => {} });
    const handled: string[] = [];
    const posing = (name: string) => defineConsumer({ name, handle: async (events) => void handled.push(...events.map((e) => e.id)) });
    // A projection's dead letter, and one whose event is not in the log.
    await setupProjection(store, likeCountsProjection({ name: 'dlprojection' }));
    const [event] = await appendInterleaved(store, ['dlgone-a'], 1);
    await store.withTransaction(async (tx) => {
      const record = { globalPosition: event!.globalPosition, id: event!.id, streamId: 'dlgone-a', version: 1, type: 'Ticked', message: 'x', stack: null, attempts: 1 };
      await recordDeadLetter(tx, { consumer: 'dlprojection', generation: 1, partition: 0 }, record);
      await recordDeadLetter(tx, { consumer: 'dlgone', generation: 1, partition: 0 }, { ...record, id: '00000000-0000-4000-8000-000000000000' });
    });
    const [projections] = await listConsumerDeadLetters(store, { consumer: 'dlprojection' });
    const [gone] = await listConsumerDeadLetters(store, { consumer: 'dlgone' });

    const cases: [() => Promise<unknown>, string, string][] = [
      [() => retryConsumerDeadLetter(store, [consumer], '999999999'), '999999999', 'no such dead letter'],
      [() => skipConsumerDeadLetter(store, '999999999'), '999999999', 'no such dead letter'],
      [() => retryConsumerDeadLetter(store, [other], letter.id), letter.id, "consumer 'dlwrong''s, which is not among the consumers given (dlwrong-other)"],
      [() => retryConsumerDeadLetter(store, [], letter.id), letter.id, 'not among the consumers given (none)'],
      [() => retryConsumerDeadLetter(store, [posing('dlprojection')], projections!.id), projections!.id, "projection 'dlprojection''s; retry it with retryDeadLetter"],
      [() => retryConsumerDeadLetter(store, [posing('dlgone')], gone!.id), gone!.id, 'is no longer in the log'],
    ];
    for (const [attempt, id, message] of cases) {
      const error = await rejection(attempt());
      expect(error, message).toBeInstanceOf(DeadLetterError);
      expect(error).toMatchObject({ id, code: 'ANNALS_DEAD_LETTER' });
      expect((error as Error).message).toContain(message);
    }
    expect(calls).toEqual([]);
    expect(handled).toEqual([]);
    expect((await listConsumerDeadLetters(store, { status: 'pending' })).map((l) => l.id)).toEqual(
      expect.arrayContaining([letter.id, projections!.id, gone!.id]),
    );
  });
});
