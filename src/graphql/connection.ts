/**
 * Relay connections with bounded pages (issue 14, "Lists are Relay connections with
 * bounded page sizes"): `first` / `after` in, `edges { cursor node }` and `pageInfo {
 * hasNextPage endCursor }` out. Pages are read by key (keyset pagination: `WHERE key <
 * cursor ORDER BY key LIMIT first + 1`), never by offset, so a page costs the same deep
 * in a list as at its start and a row added meanwhile neither repeats nor hides another.
 *
 * A cursor is opaque to clients: base64url of the list's name and the last row's key.
 * Clients only pass back what `endCursor` gave them; anything else (a cursor of another
 * list, a tampered one) is a `ValidationError` on `after`, which the service answers as
 * `BAD_USER_INPUT`, never a query that fails inside the database.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';

/** A connection field's arguments, as GraphQL hands them to the resolver. */
export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
}

/** One page asked for, checked: how many rows, after which key. */
export interface PageRequest<Key> {
  /** Rows the client asked for (the default when it gave none). */
  readonly first: number;
  /** The key of the last row of the previous page; undefined for the first page. */
  readonly after: Key | undefined;
  /** Rows to read: one more than `first`, which tells whether there is a next page. */
  readonly limit: number;
}

export interface Edge<Node> {
  cursor: string;
  node: Node;
}

export interface Connection<Node> {
  edges: Edge<Node>[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface ConnectionOptions<Row, Key> {
  /** Names the list in its cursors: a cursor of another list is refused. Any stable string (`user-likes.likedPosts`). */
  name: string;
  /** What a cursor holds: the key of a row, in the list's order. JSON values only (dates as ISO strings). */
  key: z.ZodType<Key>;
  /** A row's key: the columns the list is ordered by, ending with a unique one. */
  keyOf: (row: Row) => Key;
  /** Page size when the client gives no `first` (default 20). */
  defaultFirst?: number;
  /** Largest `first` accepted (default 100); more is refused, not cut short, so a client never mistakes a short page for the end. */
  maxFirst?: number;
}

/** What {@link defineConnection} returns: the checks and the answer of one list. */
export interface ConnectionDefinition<Row, Key> {
  readonly name: string;
  readonly maxFirst: number;
  /**
   * Checks a resolver's `first` and `after`.
   * @throws ValidationError on `first` (not 1 to maxFirst) or `after` (not a cursor of this list).
   */
  page(args: ConnectionArgs): PageRequest<Key>;
  /** The connection of the rows read with `page.limit` (at most `first + 1`, in the list's order). */
  connection<Node = Row>(rows: readonly Row[], page: PageRequest<Key>, toNode?: (row: Row) => Node): Connection<Node>;
}

/** Longer than any cursor this module writes for a sane key: refused before decoding. */
const maxCursorLength = 1024;

/**
 * Defines one paginated list: its name (in its cursors), its key, and its page bounds.
 *
 * @example
 * ```ts
 * const likedBy = defineConnection({
 *   name: 'post.likedBy',
 *   key: z.tuple([z.iso.datetime(), z.string()]),
 *   keyOf: (row: { user_id: string; liked_at: Date }) => [row.liked_at.toISOString(), row.user_id] as [string, string],
 * });
 * const page = likedBy.page(args); // throws BAD_USER_INPUT on a bad cursor or first > 100
 * const rows = await query.where(...after page.after...).orderBy('liked_at', 'desc').limit(page.limit).execute();
 * return likedBy.connection(rows, page, (row) => ({ id: row.user_id }));
 * ```
 */
export function defineConnection<Row, Key>(options: ConnectionOptions<Row, Key>): ConnectionDefinition<Row, Key> {
  const maxFirst = options.maxFirst ?? 100;
  const defaultFirst = options.defaultFirst ?? Math.min(20, maxFirst);
  if (!Number.isInteger(maxFirst) || maxFirst < 1) throw new ValidationError([{ field: 'connection.maxFirst', reason: 'must be a whole number >= 1' }]);
  if (!Number.isInteger(defaultFirst) || defaultFirst < 1 || defaultFirst > maxFirst) {
    throw new ValidationError([{ field: 'connection.defaultFirst', reason: `must be a whole number from 1 to maxFirst (${maxFirst})` }]);
  }
  const cursorOf = (row: Row): string => Buffer.from(JSON.stringify([options.name, options.keyOf(row)])).toString('base64url');
  const keyOfCursor = (cursor: string): Key => {
    const refuse = (): never => {
      throw new ValidationError([{ field: 'after', reason: `is not a cursor of ${options.name}: pass the endCursor of the previous page` }]);
    };
    if (cursor.length > maxCursorLength || !/^[\w-]*$/.test(cursor)) refuse();
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      return refuse();
    }
    if (!Array.isArray(decoded) || decoded.length !== 2 || decoded[0] !== options.name) return refuse();
    const key = options.key.safeParse(decoded[1]);
    return key.success ? key.data : refuse();
  };
  return {
    name: options.name,
    maxFirst,
    page(args) {
      const first = args.first ?? defaultFirst;
      if (!Number.isInteger(first) || first < 1 || first > maxFirst) {
        throw new ValidationError([{ field: 'first', reason: `must be from 1 to ${maxFirst}, not ${first}: read more with after` }]);
      }
      const after = args.after == null ? undefined : keyOfCursor(args.after);
      return { first, after, limit: first + 1 };
    },
    connection<Node>(rows: readonly Row[], page: PageRequest<Key>, toNode?: (row: Row) => Node): Connection<Node> {
      const shown = rows.slice(0, page.first);
      const edges = shown.map((row) => ({ cursor: cursorOf(row), node: toNode ? toNode(row) : (row as unknown as Node) }));
      return { edges, pageInfo: { hasNextPage: rows.length > page.first, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  };
}

/** `PageInfo`, defined once by {@link composeSchema} for every connection. */
export const pageInfoTypeDefs = `"""Where a page of a connection ends, and whether more follows."""
type PageInfo {
  hasNextPage: Boolean!
  """Pass it as after to read the next page; null when the page is empty."""
  endCursor: String
}`;

/**
 * The SDL of a connection of `node`: `<Name>Connection` and `<Name>Edge` (`Name` is the
 * node's type unless given). Its field takes `(first: Int, after: String)`.
 *
 * @example
 * ```ts
 * connectionTypeDefs('User'); // type UserConnection { edges: [UserEdge!]! pageInfo: PageInfo! } type UserEdge { ... }
 * ```
 */
export function connectionTypeDefs(node: string, name: string = node): string {
  return `type ${name}Connection {
  edges: [${name}Edge!]!
  pageInfo: PageInfo!
}

type ${name}Edge {
  cursor: String!
  node: ${node}!
}`;
}
