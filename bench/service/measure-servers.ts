/**
 * The measuring loops of the service figures, for any set of servers side by side: load
 * windows (autocannon) and visibility windows, interleaved round by round in a rotating
 * order so that a noisy moment on a shared machine hits every server alike, each window
 * after a warm-up (longer before a server's first window).
 */
import { randomUUID } from 'node:crypto';
import { formatMs, formatRate, now } from '../harness.js';
import { median } from '../median.js';
import { measureLoad, type LoadOptions, type LoadWindow } from './http-load.js';
import {
  graphqlBody,
  hasGraphQLErrors,
  likeMutation,
  likesIn,
  plainLikePath,
  plainPostPath,
  postQuery,
  readPostId,
  seededLikes,
} from './likes-workload.js';
import { benchApiKey } from './servers.js';
import type { ServiceProcess } from './service-processes.js';
import type { WorkCounts } from './work-counter.js';
import { serviceSettings } from './service-settings.js';
import { measureVisibility, type VisibilityMode, type VisibilityWindow } from './visibility.js';

/** A server under load: which API it speaks, and its process (for what it did: work-counter.ts). */
export interface ServerEntrant<K extends string> {
  key: K;
  label: string;
  api: 'graphql' | 'plain';
  server: ServiceProcess;
}

/** What one request cost a server, over all its measured windows. */
export interface RequestCost {
  statements: number;
  /** CPU time of the server process. */
  cpuMs: number;
  /** CPU time of the server's Postgres backends; undefined when it could not be read. */
  postgresCpuMs: number | undefined;
}

/** A load figure: every window by server (window i ran in round i), what the server did in each, and what a request cost it. */
export interface LoadFigure<K extends string> {
  windows: Partial<Record<K, LoadWindow[]>>;
  work: Partial<Record<K, WorkCounts[]>>;
  perRequest: Partial<Record<K, RequestCost>>;
}

/** Runs `measure` for every key, `rounds` times, in an order that rotates each round. */
export async function inRotatingRounds<K>(keys: readonly K[], measure: (key: K, round: number) => Promise<void>): Promise<void> {
  for (let round = 0; round < serviceSettings.rounds; round++) {
    for (let turn = 0; turn < keys.length; turn++) await measure(keys[(turn + round) % keys.length]!, round);
  }
}

/**
 * The first round's warm-up: `step` (one second of load, resolving to what it got done)
 * again and again for at least `warmupSeconds`, until `minimum` is done or
 * `warmupMaxSeconds` have passed.
 */
async function warmUp(step: () => Promise<number>, minimum: number): Promise<void> {
  const started = now();
  let done = 0;
  const elapsed = () => (now() - started) / 1000;
  while (elapsed() < serviceSettings.warmupSeconds || (done < minimum && elapsed() < serviceSettings.warmupMaxSeconds)) done += await step();
}

const pick = <T>(values: readonly T[]): T => values[Math.floor(Math.random() * values.length)]!;
const jsonHeaders = { 'content-type': 'application/json' };
const writerHeaders = { ...jsonHeaders, authorization: `Bearer ${benchApiKey}` };

/** `post(id) { id likes }` on a random seeded post, or `GET /posts/:id`. */
export function readRequests(api: 'graphql' | 'plain'): LoadOptions['next'] {
  const ids = Array.from({ length: serviceSettings.posts }, (_, index) => readPostId(index));
  if (api === 'plain') {
    const paths = ids.map(plainPostPath);
    return () => ({ method: 'GET', path: pick(paths) });
  }
  const bodies = ids.map((id) => graphqlBody(postQuery, { id }));
  return () => ({ method: 'POST', path: '/graphql', body: pick(bodies), headers: jsonHeaders });
}

/** `likePost` by a new user on a random post of the server's own (`prefix`), or `POST /posts/:id/likes`. */
export function likeRequests(api: 'graphql' | 'plain', prefix: string): LoadOptions['next'] {
  const posts = Array.from({ length: serviceSettings.mutationPosts }, (_, index) => `${prefix}-${index}`);
  if (api === 'plain') {
    return () => ({ method: 'POST', path: plainLikePath(pick(posts)), body: JSON.stringify({ userId: randomUUID() }), headers: writerHeaders });
  }
  return () => ({ method: 'POST', path: '/graphql', body: graphqlBody(likeMutation, { postId: pick(posts), userId: randomUUID() }), headers: writerHeaders });
}

/** A GraphQL answer must carry data and no errors; a plain one is checked by its status. */
const verifierOf = (api: 'graphql' | 'plain') => (api === 'graphql' ? (body: string) => !hasGraphQLErrors(body) : undefined);

/** What servers did during each of their measured windows, by key. */
class WindowWork<K extends string> {
  readonly windows: Partial<Record<K, WorkCounts[]>> = {};

  /** Runs `measure` and records what `server` did meanwhile as one of `key`'s windows. */
  async during<T>(key: K, server: ServiceProcess, measure: () => Promise<T>): Promise<T> {
    const before = await server.counts();
    const result = await measure();
    const after = await server.counts();
    (this.windows[key] ??= []).push({
      requests: after.requests - before.requests,
      statements: after.statements - before.statements,
      cpuMs: after.cpuMs - before.cpuMs,
      postgresCpuMs: after.postgresCpuMs === undefined || before.postgresCpuMs === undefined ? undefined : after.postgresCpuMs - before.postgresCpuMs,
    });
    return result;
  }

  /** What each key's server did over all its windows, per `unit` (its requests by default). */
  per(unit: (key: K) => number = (key) => this.#sum(key, (work) => work.requests) ?? 0): Partial<Record<K, RequestCost>> {
    const costs: Partial<Record<K, RequestCost>> = {};
    for (const key of Object.keys(this.windows) as K[]) {
      const count = unit(key);
      const per = (value: number | undefined) => (value === undefined ? undefined : count === 0 ? 0 : value / count);
      costs[key] = { statements: per(this.#sum(key, (work) => work.statements)) ?? 0, cpuMs: per(this.#sum(key, (work) => work.cpuMs)) ?? 0, postgresCpuMs: per(this.#sum(key, (work) => work.postgresCpuMs)) };
    }
    return costs;
  }

  #sum(key: K, pick: (work: WorkCounts) => number | undefined): number | undefined {
    const values = (this.windows[key] ?? []).map(pick);
    return values.includes(undefined) ? undefined : (values as number[]).reduce((sum, value) => sum + value, 0);
  }
}

const describeCost = (cost: RequestCost | undefined) =>
  `${cost?.statements.toFixed(2)} statements, ${cost?.cpuMs.toFixed(3)} ms CPU in Node, ${cost?.postgresCpuMs?.toFixed(3) ?? 'n/a'} ms in Postgres`;

/**
 * Measures `requests` on each server side by side. Each window follows a warm-up of the
 * same load; a request's cost is what the server did during its measured windows (work
 * counted in the server: work-counter.ts) over the requests it received in them.
 */
export async function loadFigure<K extends string>(
  title: string,
  entrants: readonly ServerEntrant<K>[],
  requests: (entrant: ServerEntrant<K>) => LoadOptions['next'],
): Promise<LoadFigure<K>> {
  const windows: Partial<Record<K, LoadWindow[]>> = {};
  const work = new WindowWork<K>();
  const byKey = new Map(entrants.map((entrant) => [entrant.key, entrant]));
  await inRotatingRounds([...byKey.keys()], async (key, round) => {
    const entrant = byKey.get(key)!;
    const load = { url: entrant.server.address, connections: serviceSettings.connections, next: requests(entrant), verify: verifierOf(entrant.api) };
    if (round === 0) await warmUp(() => measureLoad({ ...load, seconds: 1 }).then((window) => window.requests + window.failed), serviceSettings.warmupRequests);
    else await measureLoad({ ...load, seconds: serviceSettings.rewarmSeconds });
    (windows[key] ??= []).push(await work.during(key, entrant.server, () => measureLoad({ ...load, seconds: serviceSettings.windowSeconds })));
  });
  const perRequest = work.per();
  for (const entrant of entrants) {
    const measured = windows[entrant.key] ?? [];
    const cost = perRequest[entrant.key];
    const failed = measured.reduce((sum, window) => sum + window.failed, 0);
    console.log(
      `  ${title}: ${entrant.label} ${formatRate(median(measured.map((w) => w.requestsPerSecond)))}/s, p99 ${formatMs(median(measured.map((w) => w.p99Ms)))} ms ` +
        `(windows: ${measured.map((w) => formatRate(w.requestsPerSecond)).join(', ')}; per request: ${describeCost(cost)}` +
        `${failed > 0 ? `; ${failed} failed, first: ${measured.find((w) => w.firstFailure)?.firstFailure}` : ''})`,
    );
  }
  return { windows, work: work.windows, perRequest };
}

/** A visibility line: a GraphQL service (its workers running) and how its clients wait. */
export interface VisibilityEntrant<K extends string> {
  key: K;
  label: string;
  server: ServiceProcess;
  mode: VisibilityMode;
}

/** A visibility figure: every window by line, and what the service did per write made visible. */
export interface VisibilityFigure<K extends string> {
  windows: Partial<Record<K, VisibilityWindow[]>>;
  /** The mutation and every query that waited for it or polled, together. */
  perWrite: Partial<Record<K, RequestCost>>;
}

/** Measures mutation-to-visible latency on each line side by side, windows interleaved. */
export async function visibilityFigure<K extends string>(entrants: readonly VisibilityEntrant<K>[]): Promise<VisibilityFigure<K>> {
  const windows: Partial<Record<K, VisibilityWindow[]>> = {};
  const work = new WindowWork<K>();
  const byKey = new Map(entrants.map((entrant) => [entrant.key, entrant]));
  await inRotatingRounds([...byKey.keys()], async (key, round) => {
    const { server, mode } = byKey.get(key)!;
    const clients = serviceSettings.visibilityClients;
    const measure = (seconds: number) => measureVisibility({ url: server.address, mode, clients, seconds });
    if (round === 0) await warmUp(() => measure(1).then((window) => window.writes), serviceSettings.warmupWrites);
    else await measure(serviceSettings.rewarmSeconds);
    (windows[key] ??= []).push(await work.during(key, server, () => measure(serviceSettings.windowSeconds)));
  });
  const writes = (key: K) => (windows[key] ?? []).reduce((sum, window) => sum + window.writes, 0);
  const perWrite = work.per((key) => writes(key));
  for (const { key, label } of entrants) {
    const measured = windows[key] ?? [];
    const failed = measured.reduce((sum, window) => sum + window.failed + window.stale, 0);
    console.log(
      `  mutation-to-visible: ${label} p50 ${formatMs(median(measured.map((w) => w.p50Ms)))} ms, p99 ${formatMs(median(measured.map((w) => w.p99Ms)))} ms, ` +
        `${median(measured.map((w) => w.queriesPerWrite)).toFixed(1)} queries per write (windows' p99: ${measured.map((w) => formatMs(w.p99Ms)).join(', ')}; ` +
        `per write: ${describeCost(perWrite[key])}${failed > 0 ? `; ${failed} failed or stale, first: ${measured.find((w) => w.firstFailure)?.firstFailure}` : ''})`,
    );
  }
  return { windows, perWrite };
}

/**
 * Checks, before anything is measured, that a server answers what the figures expect: the
 * seeded like counts of a sample of posts, and (unless `like: false`) a like, so that a
 * server that refuses the bench's mutations, for want of a token, say, fails here rather
 * than measuring refusals.
 * @throws Error naming the server and the answer.
 */
export async function preflight(entrant: ServerEntrant<string>, options: { like?: boolean } = {}): Promise<void> {
  const url = entrant.server.address;
  const send = async (next: ReturnType<LoadOptions['next']>) => {
    const response = await fetch(`${url}${next.path}`, { method: next.method, ...(next.body === undefined ? {} : { body: next.body }), headers: next.headers ?? {} });
    return { status: response.status, body: await response.text() };
  };
  for (let index = 0; index < serviceSettings.posts; index += Math.max(1, Math.floor(serviceSettings.posts / 40))) {
    const id = readPostId(index);
    const answer = await send(entrant.api === 'plain' ? { method: 'GET', path: plainPostPath(id) } : { method: 'POST', path: '/graphql', body: graphqlBody(postQuery, { id }), headers: jsonHeaders });
    if (answer.status !== 200 || likesIn(answer.body) !== seededLikes(index)) {
      throw new Error(`${entrant.label}: post ${id} should have ${seededLikes(index)} likes; answer ${answer.status} ${answer.body.slice(0, 300)}`);
    }
  }
  if (options.like === false) return;
  const liked = await send(likeRequests(entrant.api, `preflight-${entrant.key}`)());
  if (liked.status !== 200 || hasGraphQLErrors(liked.body)) {
    throw new Error(`${entrant.label}: a like was refused (${liked.status} ${liked.body.slice(0, 300)}); check the security options in bench/service/servers.ts`);
  }
}
