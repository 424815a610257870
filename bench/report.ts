/** Turns the figures into docs/benchmarks.md (and the table printed to stdout). */
import { contestantLabels, type ContestantName } from './contestants/index.js';
import type { FigureId, FigureResult } from './figures.js';
import { formatMiB, formatRate, formatRatio, markdownTable, settings, type MachineDetails } from './harness.js';

/** What was going on beside the benchmark while it ran. */
export interface Surroundings {
  /** Highest 1-minute load average sampled during the run. */
  maxLoadAverage: number;
  /** Most non-idle Postgres sessions of other programs seen at one time. */
  maxOtherSessions: number;
  /** Samples in which another program had a non-idle Postgres session. */
  busySamples: number;
  samples: number;
}

export interface RunInfo {
  date: Date;
  seconds: number;
  commit: string;
  machine: MachineDetails;
  surroundings: Surroundings;
  figures: FigureResult[];
}

const rate = (figure: FigureResult | undefined, name: ContestantName) => figure?.eventsPerSecond[name];

function byId(figures: readonly FigureResult[], id: FigureId): FigureResult | undefined {
  return figures.find((figure) => figure.id === id);
}

/** The main table: one row per figure, the three contestants, the ratios, the extra row. */
export function resultsTable(figures: readonly FigureResult[]): string {
  const rows = figures.map((figure) => [
    figure.title,
    formatRate(rate(figure, 'annals')),
    formatRate(rate(figure, 'raw-pg')),
    formatRate(rate(figure, 'emmett')),
    formatRatio(rate(figure, 'annals'), rate(figure, 'raw-pg')),
    formatRatio(rate(figure, 'annals'), rate(figure, 'emmett')),
    formatRate(rate(figure, 'raw-pg-bigserial')),
  ]);
  const read = byId(figures, 'read-all');
  if (read?.peakRssBytes) {
    const rss = (name: ContestantName) => formatMiB(read.peakRssBytes?.[name]);
    rows.push(['peak RSS of the reading process', rss('annals'), rss('raw-pg'), rss('emmett'), '', '', rss('raw-pg-bigserial')]);
  }
  return markdownTable(
    [
      'events/s (median)',
      contestantLabels.annals,
      contestantLabels['raw-pg'],
      contestantLabels.emmett,
      'Annals / raw pg',
      'Annals / Emmett',
      `${contestantLabels['raw-pg-bigserial']} (informative)`,
    ],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  return numerator === undefined || denominator === undefined || denominator === 0 ? undefined : numerator / denominator;
}

export function checkTargets(figures: readonly FigureResult[]): TargetCheck[] {
  const batch = byId(figures, 'append-batch');
  const batchRatio = ratio(rate(batch, 'annals'), rate(batch, 'raw-pg'));
  const single = (['append-single-c1', 'append-single-c16'] as const).map((id) => {
    const figure = byId(figures, id);
    return { figure, ratio: ratio(rate(figure, 'annals'), rate(figure, 'emmett')) };
  });
  const readRate = rate(byId(figures, 'read-all'), 'annals');
  const percent = (value: number | undefined) => (value === undefined ? 'n/a' : `${Math.round(value * 100)}%`);
  return [
    {
      target: "Batched append (100 events per call) >= 80% of raw pg's multi-row insert",
      measured: `${percent(batchRatio)} (${formatRate(rate(batch, 'annals'))} vs ${formatRate(rate(batch, 'raw-pg'))} events/s)`,
      met: batchRatio === undefined ? undefined : batchRatio >= 0.8,
    },
    {
      target: "Single-event append >= 1.5x Emmett's (at concurrency 1 and 16)",
      measured: single
        .map(({ figure, ratio }) => `${ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}x`} at ${figure?.title.replace(/.*, /, '') ?? '?'}`)
        .join('; '),
      met: single.some(({ ratio }) => ratio === undefined) ? undefined : single.every(({ ratio }) => ratio! >= 1.5),
    },
    {
      target: 'Reading the global log >= 100,000 events/s',
      measured: `${formatRate(readRate)} events/s`,
      met: readRate === undefined ? undefined : readRate >= 100_000,
    },
  ];
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? 'not measured' : met ? '**met**' : '**not met**';
}

function spreadTable(figures: readonly FigureResult[]): string {
  const names: ContestantName[] = ['annals', 'raw-pg', 'emmett', 'raw-pg-bigserial'];
  const rows = figures.map((figure) => [
    figure.title,
    ...names.map((name) => (figure.samples?.[name] ?? []).map((value) => formatRate(value)).join(' / ') || 'n/a'),
  ]);
  return markdownTable(['every measured window / read, events/s', ...names.map((name) => contestantLabels[name])], rows);
}

/** How much the gap-safe position formula costs next to a plain sequence, figure by figure. */
function gapSafetyLines(figures: readonly FigureResult[]): string[] {
  return figures.map((figure) => {
    const safe = rate(figure, 'raw-pg');
    const plain = rate(figure, 'raw-pg-bigserial');
    const what = figure.id === 'read-all' ? 'xmin-bounded keyset read vs plain keyset read' : 'xid-derived positions vs bigserial';
    return `- ${figure.title}: ${what}: ${formatRate(safe)} vs ${formatRate(plain)} events/s (${formatRatio(safe, plain)}).`;
  });
}

function machineLines(info: RunInfo): string[] {
  const { machine, surroundings } = info;
  const shared = surroundings.busySamples > 0 || surroundings.maxLoadAverage > machine.cores;
  return [
    `- Date: ${info.date.toISOString()} (the run took ${Math.round(info.seconds)} s), commit ${info.commit}`,
    `- CPU: ${machine.cpu}, ${machine.cores} cores; RAM: ${machine.ramGiB} GiB; ${machine.platform}`,
    `- Node ${machine.node}; ${machine.postgres}`,
    '- Postgres on the same machine, default settings (`synchronous_commit = on`: every append waits for its WAL flush).',
    `- Load: 1-minute load average up to ${surroundings.maxLoadAverage.toFixed(1)} during the run; other programs had non-idle Postgres sessions in ${surroundings.busySamples} of ${surroundings.samples} one-second samples (at most ${surroundings.maxOtherSessions} at once).`,
    shared
      ? `- **Shared machine**: these figures were taken on a ${machine.cores}-core machine that was running other work (another engineer's test suite) at the same time. Absolute numbers are low and noisy; the ratios are the useful part, since every contestant ran interleaved with the others under the same conditions.`
      : `- The machine was otherwise quiet during the run.`,
  ];
}

const methodology = (): string => `## Methodology

All contestants run in one \`npm run bench\`, against the same Postgres server, with the same
event: \`{ type: 'LikeCreated', data: { postId, userId, likedAt }, metadata: { correlationId, source } }\`
(about 150 bytes of JSON), on stream ids \`post-<n>\`.

- **Isolation.** Each contestant runs in a Node process of its own (\`bench/child.ts\`): Emmett's
  driver installs process-wide \`pg\` type parsers that would otherwise change what the other
  contestants pay per row, and the JIT, heap and RSS high-water mark of one contestant must not
  carry over to the next. Each gets a fresh schema (Emmett: a fresh database), dropped afterwards.
- **Appends.** ${settings.streams.toLocaleString('en-US')} streams; with \`c\` workers, worker \`w\` owns streams \`w, w + c, ...\`
  and appends to them in turn, one call in flight per worker, with a pool of \`c\` connections.
  Versions are tracked by the caller and checked by every contestant (an exact expected version,
  0 for a new stream), as a command handler does; no two appends race for a stream, so nobody pays
  for conflicts. Each contestant warms up for ${settings.warmupMs} ms, then runs ${settings.rounds} measured windows of
  ${settings.measureMs} ms (each after ${settings.rewarmMs} ms of re-warming), interleaved with the other contestants'
  windows in a rotating order; the figure is the median window.
- **Reading.** ${settings.readEvents.toLocaleString('en-US')} events are written (1,000 per append) by Annals into an Annals schema and by
  Emmett into its database, then \`VACUUM ANALYZE\`d. Each reader reads in pages of ${settings.readBatchSize} events from
  the start of the log, in a fresh process, after reading ${settings.readWarmupEvents.toLocaleString('en-US')} events to warm up; ${settings.rounds} rounds in a
  rotating order, median rate. A reader still going after ${settings.readMaxMs / 1000} s is stopped and its rate is taken over
  what it read. Peak RSS is the reading process's high-water mark (\`process.resourceUsage().maxRSS\`,
  cross-checked with \`process.memoryUsage().rss\` sampled every page), highest over the rounds; it
  includes Node itself and each library's code.

What each contestant does:

| | append | read the global log |
|---|---|---|
| ${contestantLabels.annals} | \`store.appendToStream(id, events, { expectedVersion })\`: validation, one statement (stream row + events CTE) per call | \`store.iterateAll({ batchSize })\`, events mapped to \`RecordedEvent\` |
| ${contestantLabels['raw-pg']} | Hand-written \`pg\` on the same tables (created by Annals' migration): one named prepared statement per call, \`INSERT INTO streams ... ON CONFLICT DO UPDATE ... WHERE version = $expected\` + a multi-row \`INSERT INTO events ... VALUES (...), (...)\` with Annals' position formula \`(xid << 20) + n\`; no validation, no mapping | keyset paging \`SELECT * ... WHERE global_position > $1 AND global_position < (xmin << 20) ORDER BY global_position LIMIT $2\` (named statement), rows as \`pg\` returns them: the same SQL work as Annals, at its practical limit |
| ${contestantLabels.emmett} | \`eventStore.appendToStream(id, events, { expectedStreamVersion })\` (\`BEGIN\`; \`emt_append_to_stream(...)\`; \`COMMIT\`), pool of the same size | \`readMessagesBatch({ after, batchSize })\` in a loop: the query Emmett's consumers poll the log with (its batch puller would also sleep between batches; left out) |
| ${contestantLabels['raw-pg-bigserial']} | as raw pg, but \`global_position\` from a sequence default | the same keyset paging without the xmin bound, on Annals' table |
`;

const gapSafety = (figures: readonly FigureResult[]): string => `## The cost of gap safety

Annals numbers the global log from the appending transaction's id, \`(xid << 20) + n\`
(\`migrations/0001_event_store.sql\`), and readers return only positions below their snapshot's
\`xmin\` (\`pg_snapshot_xmin(pg_current_snapshot())\`): every transaction below that bound has
finished, so no event can later commit below a position a reader has already passed. With a
plain \`bigserial\`, a transaction that took a number earlier but commits later appears *behind*
a reader's checkpoint and is skipped for good.

On writes the technique costs essentially nothing: \`pg_current_xact_id()\` is read once per
statement, and positions grow with transaction ids just as a sequence's do (right-most B-tree
inserts either way), while a sequence costs a \`nextval\` per event. On reads it is one extra
condition on the index range. Measured here, the same hand-written SQL with each numbering:

${gapSafetyLines(figures).join('\n')}

Differences of a few percent are within this machine's window-to-window noise (see the spread
below). What the technique does cost is elsewhere: an event becomes visible to readers only once
every transaction that started before it has finished, so one long transaction anywhere on the
server delays the log's tail (never reorders it).
`;

export function renderReport(info: RunInfo): string {
  const targets = checkTargets(info.figures);
  const notes = info.figures.flatMap((figure) => figure.notes);
  return `# Benchmarks

Generated by \`npm run bench\` (\`bench/run-all.ts\`); re-run it to refresh this page. Higher is
better everywhere except memory.

## Machine

${machineLines(info).join('\n')}

## Results

${resultsTable(info.figures)}

Ratios above 1.00x mean Annals is faster. ${notes.length > 0 ? `\n\n${notes.map((note) => `- ${note}`).join('\n')}` : ''}

## Targets

${markdownTable(
  ['Target', 'Measured', 'Verdict'],
  targets.map((check) => [check.target, check.measured, verdict(check.met)]),
)}

## Spread

The measured windows (appends) and reads behind each median, in the order they ran:

${spreadTable(info.figures)}

${methodology()}
${gapSafety(info.figures)}
## Reproducing

\`npm run bench\` (Postgres from \`DATABASE_URL\` or \`BENCH_DATABASE_URL\`, default
\`postgres://postgres@127.0.0.1:5432/test\`). One figure alone: \`npx tsx bench/append-single.ts\`,
\`bench/append-batch.ts\` or \`bench/read-all.ts\`. Knobs: \`BENCH_MEASURE_MS\`, \`BENCH_WARMUP_MS\`,
\`BENCH_REWARM_MS\`, \`BENCH_ROUNDS\`, \`BENCH_STREAMS\`, \`BENCH_READ_EVENTS\`, \`BENCH_READ_BATCH\`,
\`BENCH_READ_WARMUP\`, \`BENCH_READ_MAX_MS\`.
`;
}

/** The console summary: the results table and the target verdicts. */
export function renderSummary(figures: readonly FigureResult[]): string {
  const targets = checkTargets(figures).map((check) => `- ${check.target}: ${check.measured} -> ${verdict(check.met).replaceAll('*', '')}`);
  return `${resultsTable(figures)}\n\n${targets.join('\n')}`;
}
