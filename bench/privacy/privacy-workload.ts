/**
 * The workload of `npm run bench:privacy`: the same events appended to two stores, one
 * plain and one with a personal field per event (`personal: [{ subject, fields }]`, one
 * subject per stream), and read back. Settings: BENCH_PRIVACY_EVENTS (events per side,
 * mode and round, default 20,000), BENCH_PRIVACY_STREAMS (default 1,000),
 * BENCH_PRIVACY_ROUNDS (default 3), BENCH_PRIVACY_CALLERS (single-event appenders, default 16).
 */
import { createHash } from 'node:crypto';
import type { EventStore, NewEvent } from '../../src/index.js';
import { intFromEnv, now } from '../harness.js';

export const settings = {
  events: intFromEnv('BENCH_PRIVACY_EVENTS', 20_000),
  streams: intFromEnv('BENCH_PRIVACY_STREAMS', 1_000),
  rounds: intFromEnv('BENCH_PRIVACY_ROUNDS', 3),
  callers: intFromEnv('BENCH_PRIVACY_CALLERS', 16),
  batch: 100,
  page: 1_000,
};

/** A fixed master key (32 bytes, base64), passed as `privacy.masterKey`: runs are repeatable. */
export const masterKey = createHash('sha256').update('annals bench:privacy master key').digest();
export const masterKeyText = masterKey.toString('base64');

export type Side = 'plain' | 'sealed';
export const sides: readonly Side[] = ['plain', 'sealed'];
export type AppendMode = 'single' | 'batch';

export const streamId = (s: number): string => `account-${s}`;
export const subjectOf = (s: number): string => `holder-${s}`;
/** The personal field's value: 30 characters, one per subject, never in the log as plaintext when sealed. */
export const ownerOf = (s: number | string): string => `Ada Lovelace-Byron ${String(s).padStart(11, '0')}`;

/** About 200 bytes of JSON data, one personal field (`owner`) of 30 characters. */
export function eventFor(s: number, amount: number, side: Side, subject = subjectOf(s)): NewEvent {
  const data = { accountId: `acct-${s}`, owner: ownerOf(s), amount, note: 'n'.repeat(110) };
  return side === 'sealed' ? { type: 'Deposited', data, personal: [{ subject, fields: ['owner'] }] } : { type: 'Deposited', data };
}

/** Appends events to a stream: Annals' `appendToStream`, or raw pg's (raw-appender.ts). */
export type Append = (streamId: string, events: readonly NewEvent[]) => Promise<unknown>;

/**
 * Appends `events` events and returns events per second. `single`: one event per call,
 * `settings.callers` callers, each owning its own streams (no conflicts); `batch`: 100
 * events to one stream per call, one caller, streams taken in turn from `offset`.
 */
export async function appendEvents(append: Append, side: Side, mode: AppendMode, events: number, offset = 0): Promise<number> {
  const started = now();
  if (mode === 'single') {
    const { callers, streams } = settings;
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        const owned = Array.from({ length: Math.ceil((streams - caller) / callers) }, (_, i) => caller + i * callers);
        const share = Math.floor(events / callers) + (caller < events % callers ? 1 : 0);
        for (let j = 0; j < share; j++) {
          const s = owned[j % owned.length]!;
          await append(streamId(s), [eventFor(s, j, side)]);
        }
      }),
    );
  } else {
    for (let b = 0; b < events / settings.batch; b++) {
      const s = (offset + b) % settings.streams;
      await append(streamId(s), Array.from({ length: settings.batch }, (_, i) => eventFor(s, i, side)));
    }
  }
  return events / ((now() - started) / 1000);
}

/** What the read figures need of a reader: Annals' store, or raw pg (raw-reader.ts). */
export interface LogReader {
  /** One page of the global log after `after`: how many events, and the last position. */
  readPage(after: bigint, limit: number): Promise<{ count: number; last: bigint | undefined }>;
  /** A whole stream: how many events. */
  readStream(streamId: string): Promise<number>;
}

export function storeReader(store: EventStore): LogReader {
  return {
    async readPage(after, limit) {
      const page = await store.readAll({ after, limit });
      return { count: page.length, last: page.at(-1)?.globalPosition };
    },
    async readStream(id) {
      return (await store.readStream(id)).length;
    },
  };
}

/** The whole log in pages of 1,000 (or up to `max` events): events per second, and how many. */
export async function readLog(reader: LogReader, max = Number.POSITIVE_INFINITY): Promise<{ rate: number; events: number }> {
  const started = now();
  let events = 0;
  let after = 0n;
  while (events < max) {
    const page = await reader.readPage(after, settings.page);
    if (page.count === 0) break;
    events += page.count;
    after = page.last!;
  }
  return { rate: events / ((now() - started) / 1000), events };
}

/** Every stream read once, one caller: streams per second, and the events read. */
export async function readStreams(reader: LogReader, count = settings.streams): Promise<{ rate: number; events: number }> {
  const started = now();
  let events = 0;
  for (let s = 0; s < count; s++) events += await reader.readStream(streamId(s));
  return { rate: count / ((now() - started) / 1000), events };
}
