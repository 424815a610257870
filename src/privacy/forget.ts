import type { Kysely } from 'kysely';
import type { EventStoreTables } from '../database/tables.js';
import { nameRules } from '../event-store/validation.js';
import type { EventStore } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';
import type { AnyProjection } from '../projections/define-projection.js';
import { privacyOf } from './store-privacy.js';
import { forgottenStream, type SubjectForgotten } from './tombstones.js';
import { clearStateCaches } from '../aggregates/state-cache.js';
import { subjectValues, verifyErasure, type ErasureReport } from './verify-erasure.js';

export { forgottenStream } from './tombstones.js';

export interface ForgetOptions {
  /** Projections whose declared personal columns the report checks (docs/privacy.md). */
  projections?: readonly AnyProjection[];
}

export interface ForgetResult {
  subject: string;
  /** Keys deleted: 0 when the subject had none (never seen, or forgotten before). */
  keysDeleted: number;
  /** Snapshots dropped: those of streams holding the subject's personal fields. */
  snapshotsDropped: number;
  /** Global position of the `SubjectForgotten` tombstone. */
  position: bigint;
  /** Where the subject's plaintext is still found after the erasure (read models to rebuild, say). */
  report: ErasureReport;
}

export const subjectSchema = nameRules('data subject');

/**
 * Erases a data subject (crypto-shredding): deletes their keys, so every personal field
 * sealed with them reads from then on as its redacted value, in every process at once;
 * drops the snapshots of the streams holding their fields (a snapshot keeps state in
 * plaintext); and appends a `SubjectForgotten` tombstone to `annals_privacy-forgotten`,
 * all in one transaction; and empties this process's aggregate state caches (other
 * processes' caches keep a state until it is evicted or the stream moves on). Then it checks, with the plaintext it read just before, where
 * that plaintext is still found (verifyErasure): projections' read models keep it until
 * they are rebuilt. A subject who comes back later gets a new key.
 */
export async function forget(store: EventStore, subject: string, options: ForgetOptions = {}): Promise<ForgetResult> {
  const checked = parseInput(subjectSchema, subject, 'subject');
  const privacy = privacyOf(store);
  const values = await subjectValues(store, checked);
  const result = await store.withTransaction(async (tx) => {
    // First, as a snapshot write takes these rows FOR SHARE (event-store/postgres/snapshots.ts):
    // a snapshot being written now commits before the DELETE below runs and is dropped
    // with the others, and one written after sees the tombstone.
    await (tx.db as Kysely<EventStoreTables>).withSchema(store.schema).selectFrom('personal_streams').select('stream_id').where('subject', '=', checked).forUpdate().execute();
    const keysDeleted = await privacy.keyStore.forget(checked, tx.db);
    const dropped = await (tx.db as Kysely<EventStoreTables>)
      .withSchema(store.schema)
      .deleteFrom('snapshots')
      .where('stream_id', 'in', (eb) => eb.selectFrom('personal_streams').select('stream_id').where('subject', '=', checked))
      .executeTakeFirst();
    const snapshotsDropped = Number(dropped.numDeletedRows);
    const appended = await tx.appendToStream(forgottenStream, [
      { type: 'SubjectForgotten', data: { subject: checked, keysDeleted, snapshotsDropped } satisfies SubjectForgotten },
    ]);
    return { keysDeleted, snapshotsDropped, position: appended.lastGlobalPosition };
  });
  clearStateCaches(store);
  const report = await verifyErasure(store, checked, { ...options, values });
  return { subject: checked, ...result, report };
}
