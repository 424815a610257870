import type { Kysely } from 'kysely';
import type { EventStoreTables } from '../database/tables.js';
import type { EventStore } from '../event-store/event-store.js';
import { forgottenStream } from './tombstones.js';

/** Where personal data stands in a store: for `annals status` and the service's metrics. */
export interface PrivacyStatus {
  /** Data subjects whose personal fields the log holds, or held until they were forgotten. */
  subjects: number;
  /** Erasures performed: `forget` calls that appended their tombstone (repeats of one subject count). */
  erasures: number;
  /** When the last one was, or null. */
  lastErasureAt: Date | null;
}

/** Reads the figures: two indexed reads (personal_streams, and the tombstones' stream row). */
export async function privacyStatus(store: EventStore): Promise<PrivacyStatus> {
  return store.read(async (db: Kysely<EventStoreTables>) => {
    const t = db.withSchema(store.schema);
    const subjects = await t
      .selectFrom('personal_streams')
      .select((eb) => eb.fn.count<string | number | bigint>('subject').distinct().as('n'))
      .executeTakeFirst();
    const tombstones = await t.selectFrom('streams').select(['version', 'updated_at']).where('stream_id', '=', forgottenStream).executeTakeFirst();
    return {
      subjects: Number(subjects?.n ?? 0),
      erasures: Number(tombstones?.version ?? 0),
      lastErasureAt: tombstones ? new Date(tombstones.updated_at) : null,
    };
  });
}
