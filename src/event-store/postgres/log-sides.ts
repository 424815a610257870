import { sql, type SelectQueryBuilder } from 'kysely';
import type { EventStoreTables } from '../../database/tables.js';
import type { LogBranch } from './log-branches.js';
import type { EventRow } from './read-statements.js';
import type { SessionContext } from './session-context.js';

type Side = SelectQueryBuilder<EventStoreTables, 'events', object>;
// The event columns as each caller selects them (eventColumns); rows are read as EventRow.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Selected = SelectQueryBuilder<EventStoreTables, 'events', any>;

/**
 * A read of the log in position order over the hot table and the archive (migration
 * 0017): `side` filters one of them (both have the events table's columns), each is
 * ordered and cut at `limit`, and the two are merged. Not the view `events_all`: over a
 * view, Postgres may sort the union of both tables for every page (a rebuild read the
 * archive 2.7 times slower that way), where each side read in index order stops at the
 * page's end. `hot` adds what only the hot table needs (the bound of open appenders: the
 * archive holds only events that were below it when they were moved). `branches` (the
 * read's types or categories, logBranches) split each side the same way, for the same
 * reason: each branch is read in index order and stops at the page's end.
 */
export function bothSides(
  session: Pick<SessionContext, 'executor' | 'schema'>,
  side: (from: Side) => Selected,
  options: { limit: number | undefined; hot?: (from: Selected) => Selected; branches?: readonly LogBranch[] },
) {
  const db = session.executor.withSchema(session.schema);
  const { limit, hot = (q) => q, branches = [(q) => q] } = options;
  const ordered = (q: Selected) => q.orderBy('global_position').$if(limit !== undefined, (p) => p.limit(limit!));
  const parts = branches.flatMap((branch) => [
    ordered(hot(branch(side(db.selectFrom('events'))))),
    // The archive has the events table's shape: the same builder, another table.
    ordered(branch(side(db.selectFrom('events_archive' as 'events')))),
  ]);
  return db
    .selectFrom(sql<EventRow>`(${sql.join(parts, sql` UNION ALL `)})`.as('e'))
    .selectAll()
    .orderBy('global_position')
    .$if(limit !== undefined, (q) => q.limit(limit!));
}
