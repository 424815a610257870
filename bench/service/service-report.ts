/**
 * The service figures as tables: on stdout, and as the generated part of their section of
 * docs/benchmarks.md (kept by `npm run bench`, below the comparisons' marker; text written
 * by hand after the section's end marker stays when it is generated again).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { withSection } from '../compare/doc-section.js';
import { formatMs, formatRate, markdownTable } from '../harness.js';
import { median } from '../median.js';
import type { LoadWindow } from './http-load.js';
import type { LoadFigure, RequestCost } from './measure-servers.js';
import { serverLabels, visibilityLabels, type ServerKey, type ServiceRun } from './service-figures.js';
import type { VisibilityMode, VisibilityWindow } from './visibility.js';

export const serviceSectionTitle = 'Issue 14: the service';

/** The issue's target: the GraphQL read at least this share of the plain route's requests/s. */
export const readTarget = 0.7;

const times = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? 'n/a' : `${value.toFixed(2)}x`);
const medianOf = (values: readonly number[]) => (values.length === 0 ? undefined : median(values));

/** The value below which a share `q` of the sorted `values` lie (linear interpolation). */
function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low);
}

/** GraphQL's window over the plain server's window of the same round (they ran back to back). */
function sameRound(figure: LoadFigure<ServerKey>, pick: (window: LoadWindow) => number): number[] {
  const plain = figure.windows.plain ?? [];
  return (figure.windows.graphql ?? []).flatMap((window, round) => (plain[round] ? [pick(window) / pick(plain[round])] : []));
}

function ratioCell(ratios: readonly number[]): string {
  if (ratios.length === 0) return 'n/a';
  const sorted = [...ratios].sort((a, b) => a - b);
  return `${times(median(sorted))} (middle half ${times(quantile(sorted, 0.25))} to ${times(quantile(sorted, 0.75))})`;
}

function loadRows(name: string, unit: string, figure: LoadFigure<ServerKey>): string[][] {
  const value = (key: ServerKey, pick: (window: LoadWindow) => number) => medianOf((figure.windows[key] ?? []).map(pick));
  const rate = (window: LoadWindow) => window.requestsPerSecond;
  const p99 = (window: LoadWindow) => window.p99Ms;
  const p50 = (window: LoadWindow) => window.p50Ms;
  const cost = (key: ServerKey) => figure.perRequest[key];
  const cpu = (key: ServerKey) => `${cost(key)?.cpuMs.toFixed(3) ?? 'n/a'} / ${cost(key)?.postgresCpuMs?.toFixed(3) ?? 'n/a'}`;
  const cpuRatio = (pick: (cost: RequestCost) => number | undefined) => {
    const [graphql, plain] = [cost('graphql'), cost('plain')].map((c) => (c ? pick(c) : undefined));
    return graphql === undefined || plain === undefined || plain === 0 ? 'n/a' : times(graphql / plain);
  };
  return [
    [`${name}: ${unit}`, formatRate(value('graphql', rate)), formatRate(value('plain', rate)), ratioCell(sameRound(figure, rate))],
    [`${name}: p50 / p99 latency (ms)`, `${formatMs(value('graphql', p50))} / ${formatMs(value('graphql', p99))}`, `${formatMs(value('plain', p50))} / ${formatMs(value('plain', p99))}`, `p99 ${ratioCell(sameRound(figure, p99))}`],
    [`${name}: SQL statements per request`, cost('graphql')?.statements.toFixed(2) ?? 'n/a', cost('plain')?.statements.toFixed(2) ?? 'n/a', ''],
    [`${name}: CPU per request, Node / Postgres (ms)`, cpu('graphql'), cpu('plain'), `${cpuRatio((c) => c.cpuMs)} / ${cpuRatio((c) => c.postgresCpuMs)} (all windows)`],
  ];
}

function visibilityTable(run: ServiceRun): string {
  const modes: VisibilityMode[] = ['read-your-writes', 'polling'];
  const { windows, perWrite } = run.figures.visibility;
  const value = (mode: VisibilityMode, pick: (window: VisibilityWindow) => number) => medianOf((windows[mode] ?? []).map(pick));
  const total = (mode: VisibilityMode, pick: (window: VisibilityWindow) => number) => (windows[mode] ?? []).reduce((sum, window) => sum + pick(window), 0);
  const row = (label: string, cell: (mode: VisibilityMode) => string) => [label, ...modes.map(cell)];
  return markdownTable(
    [`mutation-to-visible, ${run.figures.settings.visibilityClients} clients (median of windows)`, ...modes.map((mode) => visibilityLabels[mode])],
    [
      row('p50 / p99 from sending the mutation to an answer that counts it (ms)', (m) => `${formatMs(value(m, (w) => w.p50Ms))} / ${formatMs(value(m, (w) => w.p99Ms))}`),
      row('p50 / p99 of that after the mutation answered (ms)', (m) => `${formatMs(value(m, (w) => w.afterMutationP50Ms))} / ${formatMs(value(m, (w) => w.afterMutationP99Ms))}`),
      row('queries per write', (m) => (value(m, (w) => w.queriesPerWrite) ?? 0).toFixed(1)),
      row('per write, mutation and queries: SQL statements / service CPU, Node and Postgres (ms)', (m) => {
        const cost = perWrite[m];
        return cost ? `${cost.statements.toFixed(1)} / ${cost.cpuMs.toFixed(2)} and ${cost.postgresCpuMs?.toFixed(2) ?? 'n/a'}` : 'n/a';
      }),
      row('writes made visible per second', (m) => formatRate(value(m, (w) => w.writesPerSecond))),
      row('answers that missed the client\'s own write (must be 0) / failed clients', (m) => `${total(m, (w) => w.stale)} / ${total(m, (w) => w.failed)}`),
    ],
    ['left', 'right', 'right'],
  );
}

/** The target's verdict, with the rounds' spread: a median near the line on a noisy machine is said to be borderline. */
function readVerdict(run: ServiceRun): string {
  const ratios = sameRound(run.figures.read, (window) => window.requestsPerSecond).sort((a, b) => a - b);
  if (ratios.length === 0) return `- Read >= ${readTarget}x the plain route's requests/s: not measured`;
  const ratio = median(ratios);
  const met = ratio >= readTarget;
  const borderline = met ? ratios[0]! < readTarget : ratios.at(-1)! >= readTarget;
  return `- Read >= ${readTarget}x the plain route's requests/s: ${times(ratio)} (same round; rounds ${times(ratios[0])} to ${times(ratios.at(-1))}) -> ${met ? 'met' : 'NOT met'}${borderline ? ' (borderline: some rounds say otherwise)' : ''}`;
}

function failureNotes(run: ServiceRun): string[] {
  const notes: string[] = [];
  for (const [name, figure] of [['read', run.figures.read], ['likePost', run.figures.mutation]] as const) {
    for (const key of ['graphql', 'plain'] as const) {
      const windows = figure.windows[key] ?? [];
      const failed = windows.reduce((sum, window) => sum + window.failed, 0);
      if (failed > 0) notes.push(`- ${name}, ${serverLabels[key]}: ${failed} wrong answers or errors (not counted), first: \`${windows.find((w) => w.firstFailure)?.firstFailure}\``);
    }
  }
  for (const [mode, windows] of Object.entries(run.figures.visibility.windows) as [VisibilityMode, VisibilityWindow[]][]) {
    const first = windows.find((window) => window.firstFailure)?.firstFailure;
    if (first) notes.push(`- ${visibilityLabels[mode]}: a client failed: \`${first}\``);
  }
  return notes;
}

export function renderServiceSummary(run: ServiceRun): string {
  const { read, mutation } = run.figures;
  const table = markdownTable(
    ['median of windows', serverLabels.graphql, serverLabels.plain, 'Annals / plain, same round'],
    [...loadRows('read `post(id) { id likes }`', 'requests/s', read), ...loadRows('`likePost` mutation', 'mutations/s', mutation)],
    ['left', 'right', 'right', 'right'],
  );
  return `${table}\n\n${readVerdict(run)}\n\n${visibilityTable(run)}${failureNotes(run).length > 0 ? `\n\n${failureNotes(run).join('\n')}` : ''}`;
}

function spreadTables(run: ServiceRun): string {
  const list = (values: readonly number[], format: (value: number) => string) => values.map(format).join(' / ') || '-';
  const rows: string[][] = [];
  for (const [name, figure] of [['read', run.figures.read], ['likePost', run.figures.mutation]] as const) {
    const windows = (key: ServerKey) => figure.windows[key] ?? [];
    rows.push([`${name}, ${name === 'read' ? 'requests' : 'mutations'}/s`, ...(['graphql', 'plain'] as const).map((key) => list(windows(key).map((w) => w.requestsPerSecond), formatRate))]);
    rows.push([`${name}, p99 (ms)`, ...(['graphql', 'plain'] as const).map((key) => list(windows(key).map((w) => w.p99Ms), formatMs))]);
  }
  const visibility = (['read-your-writes', 'polling'] as const).map((mode) => {
    const windows = run.figures.visibility.windows[mode] ?? [];
    return [visibilityLabels[mode], list(windows.map((w) => w.p50Ms), formatMs), list(windows.map((w) => w.p99Ms), formatMs)];
  });
  return `${markdownTable(['every measured window, in the order run', serverLabels.graphql, serverLabels.plain], rows)}

${markdownTable(['mutation-to-visible, every window', 'p50 (ms)', 'p99 (ms)'], visibility)}`;
}

const loads = (values: readonly number[]) => values.map((value) => value.toFixed(2)).join(', ');

function machineLines(run: ServiceRun): string[] {
  const { machine, surroundings, figures } = run;
  const { settings } = figures;
  const shared = surroundings.busySamples > 0 || surroundings.maxLoadAverage > machine.cores;
  return [
    `- Date: ${run.date.toISOString()}; the run took ${Math.round(run.seconds)} s; commit ${run.commit}.`,
    `- ${machine.cores} CPUs (nproc), ${machine.cpu}; RAM ${machine.ramGiB} GiB; ${machine.platform}.`,
    `- Node ${machine.node}; ${machine.postgres.replace(/ on .*/, '')}, on the same machine, default settings.`,
    `- Load average (1, 5, 15 min): ${loads(run.loadBefore)} before the run, ${loads(run.loadAfter)} after; the 1-minute figure reached ${surroundings.maxLoadAverage.toFixed(1)} during it. Other programs had non-idle Postgres sessions in ${surroundings.busySamples} of ${surroundings.samples} one-second samples (at most ${surroundings.maxOtherSessions} at once).`,
    ...(shared ? ['- **Preliminary**: the machine was shared with other programs during this run; absolute figures are low and noisy, the same-round ratios are the useful part.'] : []),
    `- ${settings.rounds} rounds of ${settings.windowSeconds} s windows per server and figure, servers in a rotating order; medians of windows. Before a server's first window, the same load for at least ${settings.warmupSeconds} s and ${formatRate(settings.warmupRequests)} answers (${formatRate(settings.warmupWrites)} writes for the visibility figure), at most ${settings.warmupMaxSeconds} s; ${settings.rewarmSeconds} s before each later window. autocannon with ${settings.connections} connections, one request in flight each; each server a pg pool of ${settings.poolSize}.`,
  ];
}

export function renderServiceSection(run: ServiceRun): string {
  const { settings } = run.figures;
  return `Generated by \`npx tsx bench/service/run-service.ts\` (bench/service/): the Annals GraphQL
service and a plain fastify server side by side in one run, on the same Postgres, each server in
a Node process of its own and the load generator (autocannon, programmatic) in a third, windows
interleaved round by round in a rotating order. "Same round": the median, and the middle half,
of the ratios of the service's window to the plain server's window of the same round (back to
back, so less exposed to the machine's swings than two medians).

${renderServiceSummary(run)}

- **Read**: \`query Post($id: ID!) { post(id: $id) { id likes } }\` with the id as a variable, on
  ${formatRate(settings.posts)} posts seeded with 0 to 19 likes and caught up (a twentieth have no row and answer 0),
  each request a random one; every answer is checked (no \`errors\`). The service composes the likes
  parts as \`annals serve\` would (\`likeMutations\`, \`likeCountsGraphQL\`, \`userLikesGraphQL\`,
  \`notificationsGraphQL\`), in production mode, logging off. The plain route is \`GET /posts/:id\`:
  one \`pool.query\` of \`SELECT likes FROM "<read schema>".like_counts WHERE post_id = $1\` (the
  read schema the service reads too), no transaction, no GraphQL.
- **likePost**: a new user likes a random one of ${formatRate(settings.mutationPosts)} posts of the server's own, end to end
  (the mutation's resolver: \`handleCommand\` with the likes aggregate, its snapshot every 100
  events, conflicts retried); the plain route \`POST /posts/:id/likes\` sends the same command
  through \`handleCommand\` on the same store and answers the same three fields.
- **Mutation-to-visible**: ${settings.visibilityClients} clients, each liking one of 100 posts of its own in turn with a
  new user and then reading its count, in a loop, with the projection workers (\`runProjections\`
  over the three likes projections, default settings: LISTEN/NOTIFY, batches of up to 500) in a
  process of their own. The service's cost per write is the mutation's and its queries' together
  (the workers' is not in it).
  With read your writes, the query carries the mutation's \`position\` in \`Annals-Min-Position\`
  and its answer must count the write; polling sends the same query without it again at once
  until it does.
- Per request: what the server did during its measured windows over the requests it received
  in them, counted in the server (bench/service/work-counter.ts): statements its pg pool sent
  (BEGIN and COMMIT included), CPU time of its Node process, and CPU time of its pool's Postgres
  backends (from /proc, 10 ms ticks). On a shared machine these move much less than the rates:
  they say what a request costs, where the rates say how much CPU the service got.

${machineLines(run).join('\n')}

<details><summary>Every measured window</summary>

${spreadTables(run)}

</details>`;
}

/** Writes (or rewrites) the section in docs/benchmarks.md; the rest of the page is left as it is. */
export async function writeServiceSection(run: ServiceRun, reportFile = new URL('../../docs/benchmarks.md', import.meta.url)): Promise<void> {
  const page = await readFile(reportFile, 'utf8');
  await writeFile(reportFile, withSection(page, serviceSectionTitle, renderServiceSection(run)));
}
