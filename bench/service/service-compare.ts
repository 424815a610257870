/**
 * The service figures of a comparison between two versions of Annals
 * (bench/compare/run-compare.ts, `--only service`): each version's GraphQL service, on a
 * schema that version set up (migrated, seeded, caught up), and the plain fastify server as
 * the yardstick ("raw pg, code unchanged": the same process serves every round, so its
 * spread is the machine's noise). The projection workers of each side, for the
 * mutation-to-visible latency, are that side's own.
 */
import { label, type CompareFigure, type Side, type Versions } from '../compare/compare-figures.js';
import { databaseUrl, dropStoreSchemas, freshName } from '../harness.js';
import type { LoadWindow } from './http-load.js';
import { likeRequests, loadFigure, preflight, readRequests, visibilityFigure, type LoadFigure, type ServerEntrant } from './measure-servers.js';
import { ServiceProcess } from './service-processes.js';
import { serviceSettings } from './service-settings.js';
import type { VisibilityWindow } from './visibility.js';

/**
 * A comparison figure whose samples may be requests per second: assignable to
 * CompareFigure once its `unit` admits 'requests/s' (the one change run-compare needs).
 */
export type ServiceCompareFigure = Omit<CompareFigure, 'unit'> & { unit?: CompareFigure['unit'] | 'requests/s' };

type Sample = (window: LoadWindow) => number;

/** A figure from a load figure's windows; given `failures` (a side's label), it notes their wrong answers (once per load figure). */
function fromLoad(title: string, unit: ServiceCompareFigure['unit'], figure: LoadFigure<Side>, pick: Sample, failures?: (side: Side) => string): ServiceCompareFigure {
  const samples: CompareFigure['samples'] = {};
  for (const [side, windows] of Object.entries(figure.windows) as [Side, LoadWindow[]][]) samples[side] = windows.map(pick);
  if (!failures) return { title, unit, samples, notes: [] };
  const labelOf = failures;
  const notes = (Object.entries(figure.windows) as [Side, LoadWindow[]][]).flatMap(([side, windows]) => {
    const failed = windows.reduce((sum, window) => sum + window.failed, 0);
    return failed > 0 ? [`${title}: ${labelOf(side)} had ${failed} wrong answers or errors (not counted), first: ${windows.find((w) => w.firstFailure)?.firstFailure}`] : [];
  });
  return { title, unit, samples, notes };
}

function fromVisibility(title: string, windows: Partial<Record<Side, VisibilityWindow[]>>, pick: (window: VisibilityWindow) => number, failures?: (side: Side) => string): ServiceCompareFigure {
  const samples: CompareFigure['samples'] = {};
  const notes: string[] = [];
  for (const [side, measured] of Object.entries(windows) as [Side, VisibilityWindow[]][]) {
    samples[side] = measured.map(pick);
    const wrong = measured.reduce((sum, window) => sum + window.stale + window.failed, 0);
    if (failures && wrong > 0) notes.push(`${title}: ${failures(side)} had ${wrong} stale answers or failed clients, first: ${measured.find((w) => w.firstFailure)?.firstFailure ?? 'a stale answer'}`);
  }
  return { title, unit: 'ms', samples, notes };
}

export async function runServiceCompare(versions: Versions): Promise<ServiceCompareFigure[]> {
  const schemas: Record<'previous' | 'current', string> = { previous: freshName('service_previous'), current: freshName('service_current') };
  const started: ServiceProcess[] = [];
  const start = async (...args: Parameters<typeof ServiceProcess.start>) => {
    const process = await ServiceProcess.start(...args);
    started.push(process);
    return process;
  };
  try {
    const entrants: ServerEntrant<Side>[] = [];
    const running: ('previous' | 'current')[] = [];
    const skipped: string[] = [];
    for (const side of ['previous', 'current'] as const) {
      const { label, annalsRoot } = versions[side];
      const role = { role: 'graphql', databaseUrl, schema: schemas[side], poolSize: serviceSettings.poolSize, setUp: { posts: serviceSettings.posts } } as const;
      try {
        const entrant: ServerEntrant<Side> = { key: side, label, api: 'graphql', server: await start(annalsRoot === undefined ? role : { ...role, annalsRoot }, label) };
        await preflight(entrant);
        entrants.push(entrant);
        running.push(side);
      } catch (error) {
        // A baseline from before the service (or with another API) sits the figures out.
        skipped.push(`${label} was left out of the service figures: ${(error as Error).message.split('\n')[0]}`);
        console.error(`  service: ${label} failed`, error);
      }
    }
    const plain = await start({ role: 'plain', databaseUrl, schema: schemas.current, poolSize: serviceSettings.poolSize }, 'plain fastify + pg');
    const yardstick: ServerEntrant<Side> = { key: 'raw-pg', label: 'plain fastify + pg', api: 'plain', server: plain };
    await preflight(yardstick);
    entrants.push(yardstick);

    const read = await loadFigure('service read', entrants, (entrant) => readRequests(entrant.api));
    const mutation = await loadFigure('service likePost', entrants, (entrant) => likeRequests(entrant.api, `like-${entrant.key}`));
    await plain.close();
    for (const side of running) {
      const { label, annalsRoot } = versions[side];
      const role = { role: 'workers', databaseUrl, schema: schemas[side] } as const;
      await start(annalsRoot === undefined ? role : { ...role, annalsRoot }, `${label}'s projection workers`);
    }
    const visibility = await visibilityFigure(
      entrants.filter((entrant) => entrant.api === 'graphql').map(({ key, label, server }) => ({ key, label, server, mode: 'read-your-writes' as const })),
    );

    const connections = `${serviceSettings.connections} connections`;
    const labelOf = (side: Side) => label(side, versions);
    const rate: Sample = (window) => window.requestsPerSecond;
    const p99: Sample = (window) => window.p99Ms;
    const figures = [
      fromLoad(`service: read post(id) { id likes }, ${connections}`, 'requests/s', read, rate, labelOf),
      fromLoad(`service: read post(id) { id likes }, p99`, 'ms', read, p99),
      fromLoad(`service: likePost mutation, ${connections}`, 'commands/s', mutation, rate, labelOf),
      fromLoad(`service: likePost mutation, p99`, 'ms', mutation, p99),
      fromVisibility(`service: mutation-to-visible with read your writes, ${serviceSettings.visibilityClients} clients, p50`, visibility.windows, (w) => w.p50Ms, labelOf),
      fromVisibility(`service: mutation-to-visible with read your writes, ${serviceSettings.visibilityClients} clients, p99`, visibility.windows, (w) => w.p99Ms),
    ];
    figures[0]!.notes.push(
      ...skipped,
      'Service: each version\'s GraphQL service (bench/service/) on a schema it set up itself, the plain fastify + pg server (the working tree\'s) as the yardstick; ' +
        `${serviceSettings.rounds} rounds of ${serviceSettings.windowSeconds} s autocannon windows per side, rotating; the visibility figure has no yardstick.`,
    );
    return figures;
  } finally {
    await Promise.allSettled(started.map((process) => process.close()));
    for (const schema of Object.values(schemas)) await dropStoreSchemas(schema);
  }
}
