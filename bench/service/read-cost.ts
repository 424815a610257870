/**
 * `npx tsx bench/service/read-cost.ts [variants]`: where the GraphQL read's time goes. The
 * read figure's load (`post(id) { id likes }`, as service-figures.ts sends it) on the plain
 * route and on variants of the service each one piece lighter (read-variants.ts), side by
 * side, windows interleaved; for each, the CPU a request costs in Node and in Postgres
 * (taken over the last three rounds: V8 is still optimizing in the first ones on a loaded
 * machine) and the requests/s against the plain route's of the same round. The
 * differences between neighbours are what each piece costs. About six minutes; not part
 * of the figures. `variants` is a `;`-separated subset (default: all of them).
 */
import { median } from '../median.js';
import { databaseUrl, dropStoreSchemas, formatRate, freshName, markdownTable } from '../harness.js';
import { isMain } from '../is-main.js';
import { loadFigure, preflight, readRequests, type ServerEntrant } from './measure-servers.js';
import { readVariants, type ReadVariant } from './read-variants.js';
import { ServiceProcess } from './service-processes.js';
import { serviceSettings } from './service-settings.js';
import type { WorkCounts } from './work-counter.js';

type Key = ReadVariant | 'plain';

export interface ReadCostRow {
  key: Key;
  description: string;
  requestsPerSecond: number;
  /** Median of the same-round ratios to the plain route's requests/s. */
  ratio: number;
  statements: number;
  cpuMs: number;
  postgresCpuMs: number | undefined;
}

/** The median over the last three windows of `pick` per request: V8 is still optimizing in the first ones on a loaded machine. */
function lastRounds(windows: readonly WorkCounts[], pick: (work: WorkCounts) => number | undefined): number | undefined {
  const values = windows.slice(-3).map((work) => {
    const value = pick(work);
    return value === undefined || work.requests === 0 ? undefined : value / work.requests;
  });
  return values.length === 0 || values.includes(undefined) ? undefined : median(values as number[]);
}

export async function runReadCost(variants: readonly ReadVariant[] = Object.keys(readVariants) as ReadVariant[]): Promise<ReadCostRow[]> {
  const schema = freshName('read_cost');
  const started: ServiceProcess[] = [];
  // Each process holds a pool of this size: ten variants of ten would crowd a shared server.
  const poolSize = Math.min(serviceSettings.poolSize, 6);
  try {
    const setUp = await ServiceProcess.start({ role: 'graphql', databaseUrl, schema, poolSize, setUp: { posts: serviceSettings.posts } }, 'set-up');
    await setUp.close();
    const entrants: ServerEntrant<Key>[] = [];
    const plain = await ServiceProcess.start({ role: 'plain', databaseUrl, schema, poolSize }, 'plain fastify + pg');
    started.push(plain);
    entrants.push({ key: 'plain', label: 'plain fastify + pg', api: 'plain', server: plain });
    for (const variant of variants) {
      const server = await ServiceProcess.start({ role: 'graphql', databaseUrl, schema, poolSize, variant }, variant);
      started.push(server);
      entrants.push({ key: variant, label: variant, api: 'graphql', server });
    }
    // Reads only: `mercurius alone` has no mutations.
    for (const entrant of entrants) await preflight(entrant, { like: false });
    const figure = await loadFigure('read cost', entrants, (entrant) => readRequests(entrant.api));
    const plainRates = figure.windows.plain ?? [];
    return entrants.map(({ key }) => {
      const windows = figure.windows[key] ?? [];
      const work = figure.work[key] ?? [];
      return {
        key,
        description: key === 'plain' ? 'GET /posts/:id, one pool.query (the read figure\'s plain route)' : readVariants[key],
        requestsPerSecond: median(windows.map((window) => window.requestsPerSecond)),
        ratio: median(windows.flatMap((window, round) => (plainRates[round] ? [window.requestsPerSecond / plainRates[round].requestsPerSecond] : []))),
        statements: lastRounds(work, (w) => w.statements) ?? 0,
        cpuMs: lastRounds(work, (w) => w.cpuMs) ?? 0,
        postgresCpuMs: lastRounds(work, (w) => w.postgresCpuMs),
      };
    });
  } finally {
    await Promise.allSettled(started.map((process) => process.close()));
    await dropStoreSchemas(schema);
  }
}

export function renderReadCost(rows: readonly ReadCostRow[]): string {
  return markdownTable(
    ['server', 'what it is', 'requests/s', '/ plain, same round', 'statements', 'CPU per request, Node / Postgres (ms)'],
    rows.map((row) => [
      row.key,
      row.description,
      formatRate(row.requestsPerSecond),
      `${row.ratio.toFixed(2)}x`,
      row.statements.toFixed(2),
      `${row.cpuMs.toFixed(3)} / ${row.postgresCpuMs?.toFixed(3) ?? 'n/a'}`,
    ]),
    ['left', 'left', 'right', 'right', 'right', 'right'],
  );
}

if (isMain(import.meta.url)) {
  // Variants are separated by `;`: some names hold a comma ('lean, pool').
  const chosen = process.argv[2]?.split(';').map((name) => name.trim()) as ReadVariant[] | undefined;
  const unknown = chosen?.filter((name) => !(name in readVariants)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown variant(s) ${unknown.join('; ')}; known: ${Object.keys(readVariants).join('; ')}`);
  console.log(`\n${renderReadCost(await runReadCost(chosen))}`);
}
