/**
 * Erasure figures of `npm run bench:privacy`: `forget` of subjects with 1, 100 and 1,000
 * events, against the erasure proper done by hand (the key and the subject's snapshots
 * deleted in one transaction, raw pg); and `verifyErasure` searching the whole log for a
 * value, against the same two scans (data, metadata) run by hand.
 */
import pg from 'pg';
import { forget, verifyErasure, type EventStore } from '../../src/index.js';
import { now, quoteIdent } from '../harness.js';
import { eventFor, ownerOf, settings } from './privacy-workload.js';

export const forgetSizes = [1, 100, 1_000] as const;

export interface ErasureRound {
  /** Milliseconds of `forget`, by the subject's number of events. */
  forgetMs: Map<number, number>;
  /** Milliseconds of the raw transaction deleting the key and snapshots, by number of events. */
  rawForgetMs: Map<number, number>;
  /** Events in the log when verified. */
  logEvents: number;
  /** Events of the log scanned per second by `verifyErasure` and by the raw scans. */
  verifyRate: number;
  rawScanRate: number;
}

const subjectFor = (who: 'annals' | 'raw', round: number, events: number) => `erase-${who}-r${round}-n${events}`;

/** A subject with `events` sealed events in a stream of its own (appended in batches of 100). */
async function subjectWithEvents(store: EventStore, subject: string, events: number): Promise<void> {
  for (let first = 0; first < events; first += settings.batch) {
    const count = Math.min(settings.batch, events - first);
    await store.appendToStream(subject, Array.from({ length: count }, (_, i) => eventFor(0, first + i, 'sealed', subject)));
  }
}

/** One round: fresh subjects, forgotten by Annals and by hand in alternating order, then the scans. */
export async function erasureRound(store: EventStore, client: pg.ClientBase, round: number): Promise<ErasureRound> {
  for (const events of forgetSizes) {
    await subjectWithEvents(store, subjectFor('annals', round, events), events);
    await subjectWithEvents(store, subjectFor('raw', round, events), events);
  }
  const keys = `${quoteIdent(`${store.schema}#keys`)}."data_keys"`;
  const s = quoteIdent(store.schema);
  const forgetMs = new Map<number, number>();
  const rawForgetMs = new Map<number, number>();
  for (const events of forgetSizes) {
    const contestants = [
      async () => {
        const started = now();
        const result = await forget(store, subjectFor('annals', round, events));
        forgetMs.set(events, now() - started);
        if (result.keysDeleted !== 1) throw new Error(`forget deleted ${result.keysDeleted} keys, expected 1`);
      },
      async () => {
        const subject = subjectFor('raw', round, events);
        const started = now();
        await client.query('BEGIN');
        const deleted = await client.query(`DELETE FROM ${keys} WHERE subject = $1`, [subject]);
        await client.query(`DELETE FROM ${s}."snapshots" WHERE stream_id IN (SELECT stream_id FROM ${s}."personal_streams" WHERE subject = $1)`, [subject]);
        await client.query('COMMIT');
        rawForgetMs.set(events, now() - started);
        if (deleted.rowCount !== 1) throw new Error(`the raw erasure deleted ${deleted.rowCount} keys, expected 1`);
      },
    ];
    for (const run of round % 2 === 0 ? contestants : contestants.reverse()) await run();
  }
  const logEvents = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${s}."events"`)).rows[0]!.n);
  // The value of a forgotten subject: sealed, so found nowhere (the usual outcome after a forget).
  const values = [ownerOf(`r${round}`)];
  const verify = async () => {
    const started = now();
    const report = await verifyErasure(store, subjectFor('annals', round, 1_000), { values });
    if (report.findings.length > 0) throw new Error(`verifyErasure found ${JSON.stringify(report.findings)}`);
    return now() - started;
  };
  const rawScan = async () => {
    const started = now();
    for (const column of ['data', 'metadata']) {
      await client.query(
        `SELECT stream_id, global_position FROM ${s}."events"
         WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS v(value) WHERE strpos(${column}::text, v.value) > 0)
         ORDER BY global_position`,
        [values],
      );
    }
    return now() - started;
  };
  let verifyMs: number;
  let rawScanMs: number;
  if (round % 2 === 0) {
    verifyMs = await verify();
    rawScanMs = await rawScan();
  } else {
    rawScanMs = await rawScan();
    verifyMs = await verify();
  }
  return { forgetMs, rawForgetMs, logEvents, verifyRate: logEvents / (verifyMs / 1000), rawScanRate: logEvents / (rawScanMs / 1000) };
}
