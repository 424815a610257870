import type { SelectQueryBuilder } from 'kysely';
import type { EventStoreTables } from '../../database/tables.js';
import { anyOf } from './session-context.js';

/** A condition added to one side of a read of the log (the hot table or the archive). */
export type LogBranch = <O>(query: SelectQueryBuilder<EventStoreTables, 'events', O>) => SelectQueryBuilder<EventStoreTables, 'events', O>;

/**
 * Most values of a `types` or `categories` list read as branches of their own. A longer
 * list is one `= ANY` condition: each branch is a subquery per side of the log, and a
 * statement of hundreds of them would cost more to plan than the sort it avoids.
 */
export const maxBranches = 4;

/**
 * The `types` and `categories` of a read in position order, as one branch per value of
 * the shorter list (categories on a tie), the other list a condition in each branch.
 *
 * Why not `type = ANY($1)` alone: on the leading column of the index (type,
 * global_position), a list gives rows in no position order. Postgres then either sorts
 * every matching row after the reader's position to keep a page of them, or walks the
 * primary key and drops the rows that do not match. Both read far more than a page when
 * the filter is selective, or when the table has no statistics yet (a relay's pages of a
 * fresh log: 3 times as long). `type = $1` walks its index in position order and stops at
 * the page's end; bothSides merges the branches (Merge Append), reading about a page in
 * all. docs/benchmarks.md, "Filtered reads of the log", has the figures.
 */
export function logBranches(types: readonly string[] | undefined, categories: readonly string[] | undefined): LogBranch[] {
  const typeList = distinct(types);
  const categoryList = distinct(categories);
  const onCategories = categoryList !== undefined && (typeList === undefined || categoryList.length <= typeList.length);
  const split = onCategories ? categoryList : typeList;
  if (split === undefined || split.length === 0 || split.length > maxBranches) return [matchingAny(typeList, categoryList)];
  // The other list, as one condition in every branch.
  const rest = onCategories ? matchingAny(typeList, undefined) : matchingAny(undefined, categoryList);
  return split.map((value): LogBranch => (query) => rest(query.where(onCategories ? 'category' : 'type', '=', value)));
}

/** Both lists as `= ANY` conditions (one array parameter each; an empty one matches nothing): for reads in no order, such as a count. */
export function matchingAny(types: readonly string[] | undefined, categories: readonly string[] | undefined): LogBranch {
  return (query) =>
    query
      .$if(types !== undefined, (q) => q.where('type', '=', anyOf(types!, 'text')))
      .$if(categories !== undefined, (q) => q.where('category', '=', anyOf(categories!, 'text')));
}

/** Each value once: two branches of one value would return its events twice. */
const distinct = (values: readonly string[] | undefined) => (values === undefined ? undefined : [...new Set(values)]);
