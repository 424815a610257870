/**
 * A connection under each of many parents (a page of posts, each with `likedBy(first: 5)`)
 * read in one statement rather than one per parent: the mercurius loader of a connection
 * field. mercurius gathers the field's calls of one request into one batch; they are
 * grouped by their `(first, after)` (one group in practice: a nested list is asked with
 * the same arguments for every parent), and each group is one `read` of every parent in it.
 */
import type { Connection, ConnectionArgs, ConnectionDefinition, PageRequest } from './connection.js';

/** One call of the field, as mercurius hands it to a loader. */
export interface LoaderQuery<Parent, Args> {
  obj: Parent;
  params: Args;
}

export interface ConnectionLoaderOptions<Parent, Row, Key, Node, Context> {
  connection: ConnectionDefinition<Row, Key>;
  /** The id the rows of a parent are read by (`post.id`). */
  parentId: (parent: Parent) => string;
  /** The parent a row belongs to (`row.post_id`). */
  rowParent: (row: Row) => string;
  /**
   * Reads, for each parent id, up to `page.limit` rows after `page.after`, in the list's
   * order: one statement for all of them (a lateral join on the ids, say).
   */
  read: (parentIds: readonly string[], page: PageRequest<Key>, context: Context) => Promise<readonly Row[]>;
  /** The node an edge carries (default: the row). */
  node?: (row: Row) => Node;
}

/**
 * The loader of a connection field: `loaders: { Post: { likedBy: connectionLoader({...}) } }`.
 * A call with a bad `first` or `after` fails alone (BAD_USER_INPUT on its field); the
 * others in the batch are answered.
 *
 * @example
 * ```ts
 * const likedByLoader = connectionLoader({
 *   connection: likedBy,
 *   parentId: (post: { id: string }) => post.id,
 *   rowParent: (row) => row.post_id,
 *   read: (postIds, page, context) => readUserLikes(context, (db) => ...one statement for all postIds...),
 *   node: (row) => ({ id: row.user_id }),
 * });
 * ```
 */
export function connectionLoader<Parent, Row, Key, Node = Row, Context = unknown>(
  options: ConnectionLoaderOptions<Parent, Row, Key, Node, Context>,
): (queries: readonly LoaderQuery<Parent, ConnectionArgs>[], context: Context) => Promise<(Connection<Node> | Error)[]> {
  return async (queries, context) => {
    const groups = new Map<string, number[]>();
    queries.forEach((query, index) => {
      const group = JSON.stringify([query.params.first ?? null, query.params.after ?? null]);
      const members = groups.get(group);
      if (members) members.push(index);
      else groups.set(group, [index]);
    });
    const answers: (Connection<Node> | Error)[] = new Array(queries.length);
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        let page: PageRequest<Key>;
        try {
          page = options.connection.page(queries[indexes[0]!]!.params);
        } catch (error) {
          for (const index of indexes) answers[index] = error as Error;
          return;
        }
        const ids = [...new Set(indexes.map((index) => options.parentId(queries[index]!.obj)))];
        const rows = await options.read(ids, page, context);
        const byParent = new Map<string, Row[]>();
        for (const row of rows) {
          const parent = options.rowParent(row);
          const own = byParent.get(parent);
          if (own) own.push(row);
          else byParent.set(parent, [row]);
        }
        for (const index of indexes) {
          const own = byParent.get(options.parentId(queries[index]!.obj)) ?? [];
          answers[index] = options.connection.connection(own, page, options.node);
        }
      }),
    );
    return answers;
  };
}
