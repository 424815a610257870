import { quoteIdent } from '../database/quote-ident.js';
import type { EventStore } from '../event-store/event-store.js';

/** Where the archive stands: for `annals status` and the service's metrics. */
export interface ArchiveStatus {
  /** Every event at or below this global position is in the archive (0: nothing archived). */
  archivedThrough: bigint;
  /** Events in the archive. */
  archivedEvents: number;
  /** The archive table's size on disk, with its indexes and TOAST, in bytes. */
  archiveBytes: number;
  lastArchivedAt: Date | null;
}

export async function archiveStatus(store: EventStore): Promise<ArchiveStatus> {
  const [row] = await store.withTransaction(
    (tx) =>
      tx.query<{ through: string; events: string | number; bytes: string | number; at: Date | string | null }>(
        `SELECT archived_through::text AS through, archived_events AS events, last_archived_at AS at,
                pg_total_relation_size('${quoteIdent(tx.schema).replaceAll("'", "''")}.events_archive') AS bytes
           FROM ${quoteIdent(tx.schema)}.archive_state`,
      ),
    { appends: false },
  );
  return {
    archivedThrough: BigInt(row?.through ?? '0'),
    archivedEvents: Number(row?.events ?? 0),
    archiveBytes: Number(row?.bytes ?? 0),
    lastArchivedAt: row?.at ? new Date(row.at) : null,
  };
}
