import { buildSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationsToRun, unknownName } from '../../../src/server/security/operations.js';
import { queryCost } from '../../../src/server/security/query-cost.js';

// The cost is an upper bound on the fields a query resolves: each case states its
// arithmetic, so a change to the rules shows here as a changed sum.
const schema = buildSchema(`
  type Query { post(id: ID!): Post, user(id: ID!): User, feed(first: Int, last: Int): PostConnection!, tags: [String!]!, node: Node }
  type Mutation { likePost(postId: ID!): Int! }
  interface Node { id: ID! }
  type Post implements Node { id: ID!, likes: Int!, likedBy(first: Int, after: String): UserConnection!, comments: [Comment!]! }
  type Comment { text: String!, author: User! }
  type User implements Node { id: ID!, likedPosts(first: Int): PostConnection! }
  type PostConnection { edges: [PostEdge!]!, nodes: [Post!]!, pageInfo: PageInfo! }
  type PostEdge { cursor: String!, node: Post! }
  type UserConnection { edges: [UserEdge!]! }
  type UserEdge { node: User! }
  type PageInfo { hasNextPage: Boolean! }
`);

function cost(query: string, variables: Record<string, unknown> = {}, operationName?: string, defaultListSize = 20): number {
  const document = parse(query);
  return queryCost(schema, document, operationsToRun(document, operationName), { variables, defaultListSize });
}

describe('queryCost', () => {
  it('every field costs 1; __typename and introspection nothing', () => {
    // post 1 + id 1 + likes 1
    expect(cost('{ post(id: "1") { id likes __typename } }')).toBe(3);
    expect(cost('{ __schema { types { name } } }')).toBe(0);
  });

  it('a field with first costs first times its selection; the edges in it are that page', () => {
    // feed 1 + 10 × (edges 1 + node 1 + id 1)
    expect(cost('{ feed(first: 10) { edges { node { id } } } }')).toBe(31);
    // last counts the same; pageInfo is not multiplied further
    expect(cost('{ feed(last: 10) { nodes { id } pageInfo { hasNextPage } } }')).toBe(1 + 10 * (2 + 2));
  });

  it('nested pages multiply', () => {
    // user 1 + likedPosts 1 + 100 × (edges 1 + node 1 + likedBy 1 + 100 × (edges 1 + node 1 + id 1))
    const query = '{ user(id: "u") { likedPosts(first: 100) { edges { node { likedBy(first: 100) { edges { node { id } } } } } } } }';
    expect(cost(query)).toBe(1 + 1 + 100 * (3 + 100 * 3));
  });

  it('first from a variable, or from the variable’s default', () => {
    const query = 'query Feed($n: Int = 5) { feed(first: $n) { nodes { id } } }';
    expect(cost(query, { n: 50 })).toBe(1 + 50 * 2);
    expect(cost(query)).toBe(1 + 5 * 2);
  });

  it('a list without first counts defaultListSize, once per level', () => {
    // post 1 + comments 1 + 20 × (text 1 + author 1 + id 1)
    expect(cost('{ post(id: "1") { comments { text author { id } } } }')).toBe(1 + 1 + 20 * 3);
    expect(cost('{ post(id: "1") { comments { text } } }', {}, undefined, 5)).toBe(1 + 1 + 5);
    // a list of scalars is a leaf
    expect(cost('{ tags }')).toBe(1);
    // a connection without first: its default page is assumed
    expect(cost('{ feed { nodes { id } } }')).toBe(1 + 1 + 20 * 1);
  });

  it('fragments count as if all applied; @skip and @include are honoured', () => {
    const query = `
      query ($withPost: Boolean!) {
        node { ... on Post { likes } ...UserFields }
        post(id: "1") @include(if: $withPost) { id }
      }
      fragment UserFields on User { id }`;
    expect(cost(query, { withPost: false })).toBe(1 + 1 + 1);
    expect(cost(query, { withPost: true })).toBe(1 + 1 + 1 + 2);
    expect(cost('{ post(id: "1") @skip(if: true) { id } tags }')).toBe(1);
  });

  it('the operation named is the one counted; with the name unknown, the dearest', () => {
    const query = 'query Cheap { tags } query Dear { feed(first: 100) { nodes { id } } }';
    expect(cost(query, {}, 'Cheap')).toBe(1);
    expect(cost(query, {}, 'Dear')).toBe(201);
    const document = parse(query);
    expect(queryCost(schema, document, operationsToRun(document, unknownName), { defaultListSize: 20 })).toBe(201);
    expect(operationsToRun(document, undefined)).toEqual([]);
  });

  it('a negative first counts as none (the resolver refuses it)', () => {
    expect(cost('{ feed(first: -5) { nodes { id } } }')).toBe(1);
  });

  it('mutations are counted from the mutation type', () => {
    expect(cost('mutation { likePost(postId: "1") }')).toBe(1);
  });
});
