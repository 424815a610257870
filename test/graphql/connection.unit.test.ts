import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../src/errors.js';
import { connectionTypeDefs, defineConnection } from '../../src/graphql/connection.js';
import { connectionLoader } from '../../src/graphql/connection-loader.js';

interface Row {
  id: number;
  parent: string;
}

const numbers = defineConnection({ name: 'numbers', key: z.number().int(), keyOf: (row: Row) => row.id, defaultFirst: 2, maxFirst: 3 });
const rows = (ids: number[], parent = 'p'): Row[] => ids.map((id) => ({ id, parent }));

describe('defineConnection', () => {
  it('reads first + 1 rows and tells from the extra one whether a page follows', () => {
    const page = numbers.page({});
    expect(page).toEqual({ first: 2, after: undefined, limit: 3 });
    const full = numbers.connection(rows([9, 8, 7]), page);
    expect(full.edges.map((edge) => edge.node.id)).toEqual([9, 8]);
    expect(full.pageInfo).toEqual({ hasNextPage: true, endCursor: full.edges[1]!.cursor });
    expect(numbers.page({ first: 3, after: full.pageInfo.endCursor })).toEqual({ first: 3, after: 8, limit: 4 });
    expect(numbers.connection(rows([7]), page, (row) => row.id)).toEqual({ edges: [{ cursor: expect.any(String), node: 7 }], pageInfo: { hasNextPage: false, endCursor: expect.any(String) } });
    expect(numbers.connection([], page).pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });

  it('writes opaque cursors: base64url, no key in plain sight', () => {
    const [edge] = numbers.connection(rows([42]), numbers.page({})).edges;
    expect(edge!.cursor).toMatch(/^[\w-]+$/);
    expect(edge!.cursor).not.toContain('42');
  });

  it('refuses first beyond its bounds and a cursor of another list', () => {
    expect(() => numbers.page({ first: 4 })).toThrow(new ValidationError([{ field: 'first', reason: 'must be from 1 to 3, not 4: read more with after' }]));
    expect(() => numbers.page({ first: 1.5 })).toThrow(ValidationError);
    const other = defineConnection({ name: 'others', key: z.number().int(), keyOf: (row: Row) => row.id });
    const cursor = other.connection(rows([1]), other.page({})).pageInfo.endCursor!;
    expect(() => numbers.page({ after: cursor })).toThrow(new ValidationError([{ field: 'after', reason: 'is not a cursor of numbers: pass the endCursor of the previous page' }]));
  });

  it('refuses bounds that make no sense', () => {
    expect(() => defineConnection({ name: 'x', key: z.string(), keyOf: String, maxFirst: 0 })).toThrow(ValidationError);
    expect(() => defineConnection({ name: 'x', key: z.string(), keyOf: String, defaultFirst: 200 })).toThrow(
      new ValidationError([{ field: 'connection.defaultFirst', reason: 'must be a whole number from 1 to maxFirst (100)' }]),
    );
  });

  it('writes the Relay types of a node', () => {
    expect(connectionTypeDefs('User')).toBe('type UserConnection {\n  edges: [UserEdge!]!\n  pageInfo: PageInfo!\n}\n\ntype UserEdge {\n  cursor: String!\n  node: User!\n}');
  });
});

describe('connectionLoader', () => {
  it('reads once per distinct page, and answers each parent with its own rows', async () => {
    const calls: [readonly string[], number][] = [];
    const loader = connectionLoader({
      connection: numbers,
      parentId: (parent: { id: string }) => parent.id,
      rowParent: (row: Row) => row.parent,
      read: async (ids, page) => {
        calls.push([ids, page.limit]);
        return ids.flatMap((id) => rows([3, 2, 1], id)).slice(0, 100);
      },
    });
    const answers = await loader(
      [
        { obj: { id: 'a' }, params: {} },
        { obj: { id: 'b' }, params: {} },
        { obj: { id: 'a' }, params: { first: 1 } },
        { obj: { id: 'c' }, params: { after: 'bad' } },
      ],
      undefined,
    );
    expect(calls).toEqual([
      [['a', 'b'], 3],
      [['a'], 2],
    ]);
    expect(answers.map((answer) => (answer instanceof Error ? answer.message : answer.edges.map((edge) => edge.node.id)))).toEqual([
      [3, 2],
      [3, 2],
      [3],
      'after: is not a cursor of numbers: pass the endCursor of the previous page',
    ]);
  });
});
