/**
 * The service figures (issue 14, section 8), side by side in one run on the same Postgres,
 * each server in a process of its own and the load (autocannon) in this one:
 * 1. a read, `post(id) { id likes }`, through the Annals GraphQL service with the likes
 *    parts composed, against a plain fastify route doing the same lookup with pg;
 * 2. the `likePost` mutation end to end, against a plain fastify route sending the same
 *    command through `handleCommand`;
 * 3. mutation-to-visible latency with read your writes (`Annals-Min-Position`), the
 *    projection workers running in a process of their own, against polling without it.
 *
 * Run alone: `npx tsx bench/service/run-service.ts` (writes its section of docs/benchmarks.md).
 */
import os from 'node:os';
import { databaseUrl, dropStoreSchemas, freshName, machineDetails, now, watchSurroundings, type MachineDetails, type Surroundings } from '../harness.js';
import { likeRequests, loadFigure, preflight, readRequests, visibilityFigure, type LoadFigure, type ServerEntrant, type VisibilityFigure } from './measure-servers.js';
import { ServiceProcess } from './service-processes.js';
import { serviceSettings } from './service-settings.js';
import type { VisibilityMode } from './visibility.js';
import { commitMeasured } from '../harness.js';

export type ServerKey = 'graphql' | 'plain';

export const serverLabels: Record<ServerKey, string> = {
  graphql: 'Annals GraphQL service',
  plain: 'plain fastify + pg',
};

export const visibilityLabels: Record<VisibilityMode, string> = {
  'read-your-writes': 'read your writes (Annals-Min-Position)',
  polling: 'polling without it',
};

export interface ServiceFigures {
  /** The settings the figures ran with. */
  settings: typeof serviceSettings;
  read: LoadFigure<ServerKey>;
  mutation: LoadFigure<ServerKey>;
  visibility: VisibilityFigure<VisibilityMode>;
}

/** A run of the service figures, with what the report says about where and when. */
export interface ServiceRun {
  date: Date;
  seconds: number;
  commit: string;
  machine: MachineDetails;
  loadBefore: number[];
  loadAfter: number[];
  surroundings: Surroundings;
  figures: ServiceFigures;
}

/** Measures the three figures on a fresh schema, dropped afterwards. */
export async function runServiceFigures(): Promise<ServiceFigures> {
  const schema = freshName('service');
  const started: ServiceProcess[] = [];
  const start = async (...args: Parameters<typeof ServiceProcess.start>) => {
    const process = await ServiceProcess.start(...args);
    started.push(process);
    return process;
  };
  const common = { databaseUrl, schema, poolSize: serviceSettings.poolSize };
  try {
    // The GraphQL server sets the schema up (migrate, seed, catch up); the plain one reads it.
    const graphql = await start({ role: 'graphql', ...common, setUp: { posts: serviceSettings.posts } }, serverLabels.graphql);
    const plain = await start({ role: 'plain', ...common }, serverLabels.plain);
    const entrants: ServerEntrant<ServerKey>[] = [
      { key: 'graphql', label: serverLabels.graphql, api: 'graphql', server: graphql },
      { key: 'plain', label: serverLabels.plain, api: 'plain', server: plain },
    ];
    for (const entrant of entrants) await preflight(entrant);
    const read = await loadFigure('read a post with its like count', entrants, (entrant) => readRequests(entrant.api));
    const mutation = await loadFigure('likePost', entrants, (entrant) => likeRequests(entrant.api, `like-${entrant.key}`));
    // The plain server is done; the workers (caught up first) take its place.
    await plain.close();
    await start({ role: 'workers', databaseUrl, schema }, 'projection workers');
    const visibility = await visibilityFigure(
      (['read-your-writes', 'polling'] as const).map((mode) => ({ key: mode, label: visibilityLabels[mode], server: graphql, mode })),
    );
    return { settings: { ...serviceSettings }, read, mutation, visibility };
  } finally {
    await Promise.allSettled(started.map((process) => process.close()));
    await dropStoreSchemas(schema);
  }
}


/** Runs the figures with the machine's details and what ran beside them. */
export async function runServiceBench(): Promise<ServiceRun> {
  const started = now();
  const date = new Date();
  const loadBefore = os.loadavg();
  const machine = await machineDetails();
  const watcher = watchSurroundings();
  let figures: ServiceFigures;
  let surroundings: Surroundings;
  try {
    figures = await runServiceFigures();
  } finally {
    surroundings = await watcher.stop();
  }
  return { date, seconds: (now() - started) / 1000, commit: commitMeasured(['src', 'domain', 'projections']), machine, loadBefore, loadAfter: os.loadavg(), surroundings, figures };
}
