import { sql, type Kysely } from 'kysely';
import type { EventStoreTables } from '../database/tables.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { toRecordedEvent, type EventRow } from '../event-store/postgres/read-statements.js';
import { revealEvents } from '../privacy/personal-data.js';
import { privacyOf } from '../privacy/store-privacy.js';
import { eventColumns } from '../event-store/postgres/reads.js';

/**
 * The schema check's reads of the stored log. Not bounded like readAll: the check looks at
 * what is stored, not at what a consumer may process next, so an event that committed
 * while an older appender is still open counts too.
 */

/** How many events of one category, type and schema version the log stores. */
export interface StoredKind {
  category: string;
  type: string;
  schemaVersion: number;
  count: number;
}

/** Which stored events one reader of the check reads: a type and version, in some categories (undefined: every one). */
export interface StoredSelection {
  type: string;
  schemaVersion: number;
  categories: readonly string[] | undefined;
}

const pageSize = 1000;

function events(db: Kysely<EventStoreTables>, store: EventStore) {
  return db.withSchema(store.schema).selectFrom('events_all');
}

/** Every category, type and schema version in the log, with counts: one pass over the events table. */
export async function storedKinds(store: EventStore): Promise<StoredKind[]> {
  const rows = await store.read((db: Kysely<EventStoreTables>) =>
    events(db, store)
      .select(['category', 'type', 'schema_version'])
      .select((eb) => eb.fn.countAll<string | number | bigint>().as('count'))
      .groupBy(['category', 'type', 'schema_version'])
      .orderBy('type')
      .orderBy('schema_version')
      .orderBy('category')
      .execute(),
  );
  return rows.map((row) => ({ category: row.category, type: row.type, schemaVersion: row.schema_version, count: Number(row.count) }));
}

/** Every stored event of the selection, in pages of 1,000, in log order. */
export async function* everyEvent(store: EventStore, selection: StoredSelection): AsyncIterable<RecordedEvent[]> {
  let after = -1n;
  for (;;) {
    const rows = await store.read((db: Kysely<EventStoreTables>) =>
      events(db, store)
        .select(eventColumns)
        .where('type', '=', selection.type)
        .where('schema_version', '=', selection.schemaVersion)
        .$if(selection.categories !== undefined, (q) => q.where('category', 'in', [...selection.categories!]))
        .where('global_position', '>', after.toString())
        .orderBy('global_position')
        .limit(pageSize)
        .execute(),
    );
    const page = await store.read((db) => revealEvents(privacyOf(store), db, rows.map((row) => toRecordedEvent(row as EventRow))));
    if (page.length > 0) yield page;
    if (page.length < pageSize) return;
    after = page.at(-1)!.globalPosition;
  }
}

/**
 * About `size` stored events of the selection spread evenly over its history (every
 * `step`-th in log order, the first and the last among them), so old shapes and new ones
 * are both read. Postgres numbers the selection's rows and sends only the sample.
 */
export async function sampledEvents(store: EventStore, selection: StoredSelection, stored: number, size: number): Promise<RecordedEvent[]> {
  const step = Math.max(1, Math.ceil(stored / size));
  const rows = await store.read(async (db: Kysely<EventStoreTables>) => {
    const numbered = events(db, store)
      .select(eventColumns)
      .select([sql<number>`row_number() OVER (ORDER BY global_position)`.as('n'), sql<number>`count(*) OVER ()`.as('total')])
      .where('type', '=', selection.type)
      .where('schema_version', '=', selection.schemaVersion)
      .$if(selection.categories !== undefined, (q) => q.where('category', 'in', [...selection.categories!]));
    return db
      .selectFrom(numbered.as('numbered'))
      .select(eventColumns)
      .where((eb) => eb.or([eb(sql`(n - 1) % ${step}`, '=', 0), eb('n', '=', eb.ref('total'))]))
      .orderBy('global_position')
      .execute();
  });
  return store.read((db) => revealEvents(privacyOf(store), db, rows.map((row) => toRecordedEvent(row as EventRow))));
}
