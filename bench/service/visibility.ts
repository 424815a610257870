/**
 * Mutation-to-visible latency: clients that each like a post of their own and then read
 * its like count back, in a loop over posts of their own, against the GraphQL service with the projection workers
 * running in a process of their own. A write is visible when an answer counts it; the
 * latency runs from sending the mutation to receiving that answer.
 *
 * Two ways to wait for it, measured side by side:
 * - `read-your-writes`: one query carrying the mutation's position in `Annals-Min-Position`;
 *   the service holds it until the like-counts projection has processed that position.
 *   Its answer must count the write: one that does not is counted as stale (a bug).
 * - `polling`: the same query without the header, sent again at once until its answer
 *   counts the write (the fastest a client without a consistency token can see it, paid
 *   for in queries).
 */
import { Agent, request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { now } from '../harness.js';
import { percentile } from './http-load.js';
import { graphqlBody, hasGraphQLErrors, likeMutation, likesIn, positionIn, postQuery } from './likes-workload.js';
import { benchApiKey } from './servers.js';

export type VisibilityMode = 'read-your-writes' | 'polling';

export interface VisibilityWindow {
  /** Writes seen visible in the window. */
  writes: number;
  writesPerSecond: number;
  /** From sending the mutation to the answer that counts it. */
  p50Ms: number;
  p99Ms: number;
  /** From the mutation's answer to the answer that counts it: the wait for the read model. */
  afterMutationP50Ms: number;
  afterMutationP99Ms: number;
  /** Queries sent per write (1 with read your writes). */
  queriesPerWrite: number;
  /** Answers to a read-your-writes query that did not count the client's own write. */
  stale: number;
  failed: number;
  firstFailure?: string;
}

/**
 * Posts each client likes in turn: its own, so it knows the count an answer must show, and
 * many, so that a post's stream stays short (as in the mutation figure) and the mutation
 * does not grow slower as a window goes on.
 */
const postsPerClient = 100;

/** A poll that has not seen its write after this long is a failure, not a latency. */
const pollGiveUpMs = 10_000;

interface Answer {
  status: number;
  body: string;
}

function post(agent: Agent, url: URL, body: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } });
    outgoing.on('response', (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => (text += chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: text }));
      incoming.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

class Failure extends Error {}

const describe = (what: string, answer: Answer) => new Failure(`${what}: ${answer.status} ${answer.body.slice(0, 300)}`);

/**
 * Runs `clients` clients for `seconds` in `mode`. Each client likes posts of its own (fresh
 * ones per window) in turn, with a new user each time, so it knows the count its answer
 * must show.
 */
export async function measureVisibility(options: { url: string; clients: number; seconds: number; mode: VisibilityMode }): Promise<VisibilityWindow> {
  const endpoint = new URL('/graphql', options.url);
  const totals: number[] = [];
  const waits: number[] = [];
  let queries = 0;
  let stale = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const deadline = now() + options.seconds * 1000;

  const client = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const posts = Array.from({ length: postsPerClient }, () => ({ postId: `visible-${randomUUID()}`, likes: 0 }));
    try {
      for (let write = 0; now() < deadline; write++) {
        const target = posts[write % posts.length]!;
        const { postId } = target;
        const likes = ++target.likes;
        const read = graphqlBody(postQuery, { id: postId });
        const sent = now();
        const liked = await post(agent, endpoint, graphqlBody(likeMutation, { postId, userId: randomUUID() }), { authorization: `Bearer ${benchApiKey}` });
        const position = liked.status === 200 && !hasGraphQLErrors(liked.body) ? positionIn(liked.body) : undefined;
        if (position === undefined) throw describe('likePost', liked);
        const answered = now();
        for (const started = answered; ; ) {
          const answer = await post(agent, endpoint, read, options.mode === 'read-your-writes' ? { 'annals-min-position': position } : {});
          queries += 1;
          const seen = answer.status === 200 && !hasGraphQLErrors(answer.body) ? likesIn(answer.body) : undefined;
          if (seen === undefined) throw describe('post', answer);
          if (seen >= likes) break;
          if (options.mode === 'read-your-writes') {
            stale += 1;
            break;
          }
          if (now() - started > pollGiveUpMs) throw new Failure(`post ${postId} did not show like ${likes} after ${pollGiveUpMs} ms of polling`);
        }
        const visible = now();
        totals.push(visible - sent);
        waits.push(visible - answered);
      }
    } catch (error) {
      // One failure ends this client's window: the next round starts it afresh.
      failed += 1;
      firstFailure ??= (error as Error).message;
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  totals.sort((a, b) => a - b);
  waits.sort((a, b) => a - b);
  return {
    writes: totals.length,
    writesPerSecond: totals.length / options.seconds,
    p50Ms: percentile(totals, 0.5),
    p99Ms: percentile(totals, 0.99),
    afterMutationP50Ms: percentile(waits, 0.5),
    afterMutationP99Ms: percentile(waits, 0.99),
    queriesPerWrite: totals.length === 0 ? 0 : queries / totals.length,
    stale,
    failed,
    ...(firstFailure === undefined ? {} : { firstFailure }),
  };
}
