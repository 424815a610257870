/** Turns the figures into docs/benchmarks.md (and the table printed to stdout). */
import { renderCommandsSection } from './commands-report.js';
import { renderProjectionsSection, type ProjectionFigures } from './projections/figures.js';
import { contestantLabels, type ContestantName } from './contestants/index.js';
import { formatMiB, formatRate, formatRatio, markdownTable, settings, type MachineDetails, type Surroundings } from './harness.js';
import type { CommandResults, FigureId, FigureResult } from './results.js';

export interface RunInfo {
  date: Date;
  seconds: number;
  commit: string;
  machine: MachineDetails;
  surroundings: Surroundings;
  figures: FigureResult[];
  /** The command and load-time figures (their own section). */
  commands?: CommandResults;
  /** Replay and latency of projections (their own section). */
  projections?: ProjectionFigures;
}

const rate = (figure: FigureResult | undefined, name: ContestantName) => figure?.eventsPerSecond[name];

function byId(figures: readonly FigureResult[], id: FigureId): FigureResult | undefined {
  return figures.find((figure) => figure.id === id);
}

/** The main table: one row per figure, the contestants, the ratios, the informative column. */
export function resultsTable(figures: readonly FigureResult[]): string {
  const rows = figures.map((figure) => [
    figure.title,
    formatRate(rate(figure, 'annals')),
    formatRate(rate(figure, 'raw-pg-annals-sql')),
    formatRate(rate(figure, 'raw-pg')),
    formatRate(rate(figure, 'emmett')),
    formatRatio(rate(figure, 'annals'), rate(figure, 'raw-pg-annals-sql')),
    formatRatio(rate(figure, 'annals'), rate(figure, 'raw-pg')),
    formatRatio(rate(figure, 'annals'), rate(figure, 'emmett')),
    formatRate(rate(figure, 'raw-pg-bigserial')),
  ]);
  const read = byId(figures, 'read-all');
  if (read?.peakRssBytes) {
    const memory = (bytes: FigureResult['peakRssBytes']) => (name: ContestantName) => formatMiB(bytes?.[name]);
    for (const [label, bytes] of [
      ['peak RSS of the reading process', read.peakRssBytes],
      ['RSS just before the read (warm, after GC)', read.baselineRssBytes],
      ['peak V8 heap used during the read', read.peakHeapBytes],
    ] as const) {
      const of = memory(bytes);
      rows.push([label, of('annals'), of('raw-pg-annals-sql'), of('raw-pg'), of('emmett'), '', '', '', of('raw-pg-bigserial')]);
    }
  }
  return markdownTable(
    [
      'events/s (median)',
      contestantLabels.annals,
      contestantLabels['raw-pg-annals-sql'],
      contestantLabels['raw-pg'],
      contestantLabels.emmett,
      "Annals / Annals' SQL",
      'Annals / minimal SQL',
      'Annals / Emmett',
      `${contestantLabels['raw-pg-bigserial']} (informative)`,
    ],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

interface TargetCheck {
  target: string;
  measured: string;
  /** Per-round values (ratios of windows run back to back, or reads): how sure the verdict is. */
  rounds: string;
  met: boolean | undefined;
  /** True when some rounds fall on the other side of the target than the verdict. */
  borderline: boolean;
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  return numerator === undefined || denominator === undefined || denominator === 0 ? undefined : numerator / denominator;
}

/**
 * Annals' window of each round divided by the other contestant's window of the same
 * round. Those windows ran back to back, so a ratio within one round is less exposed to
 * the machine's load swings than the ratio of two medians.
 */
function pairedRatios(figure: FigureResult | undefined, other: ContestantName): number[] {
  const annals = figure?.samples?.annals ?? [];
  const theirs = figure?.samples?.[other] ?? [];
  return annals.flatMap((value, round) => (theirs[round] ? [value / theirs[round]] : []));
}

/** "at concurrency 16", "batches of 100": what tells the append figures apart in a sentence. */
function shortTitle(figure: FigureResult | undefined): string {
  if (!figure) return '';
  if (figure.id === 'append-batch') return 'in batches';
  return `at ${figure.title.replace(/.*, /, '')}`;
}

function range(values: readonly number[], format: (value: number) => string): string {
  return values.length === 0 ? 'n/a' : `${format(Math.min(...values))} to ${format(Math.max(...values))}`;
}

const times = (value: number) => `${value.toFixed(2)}x`;
const percent = (value: number) => `${Math.round(value * 100)}%`;

export function checkTargets(figures: readonly FigureResult[]): TargetCheck[] {
  const batch = byId(figures, 'append-batch');
  const batchRatio = ratio(rate(batch, 'annals'), rate(batch, 'raw-pg'));
  const batchRounds = pairedRatios(batch, 'raw-pg');
  const single = (['append-single-c1', 'append-single-c16'] as const).map((id) => {
    const figure = byId(figures, id);
    const at = figure?.title.replace(/.*, /, '') ?? '?';
    return { at, ratio: ratio(rate(figure, 'annals'), rate(figure, 'emmett')), rounds: pairedRatios(figure, 'emmett') };
  });
  const read = byId(figures, 'read-all');
  const readRate = rate(read, 'annals');
  const readRounds = read?.samples?.annals ?? [];
  const singleMet = single.some(({ ratio }) => ratio === undefined) ? undefined : single.every(({ ratio }) => ratio! >= 1.5);
  const sameSql = (['append-single-c1', 'append-single-c16', 'append-batch'] as const).map((id) => {
    const figure = byId(figures, id);
    return { figure, ratio: ratio(rate(figure, 'annals'), rate(figure, 'raw-pg-annals-sql')), rounds: pairedRatios(figure, 'raw-pg-annals-sql') };
  });
  const sameSqlMet = sameSql.some(({ ratio }) => ratio === undefined) ? undefined : sameSql.every(({ ratio }) => ratio! >= 0.85);
  const readSameSql = ratio(readRate, rate(read, 'raw-pg-annals-sql'));
  // Reads of one round ran one after another, in a rotating order.
  const readSameSqlRounds = pairedRatios(read, 'raw-pg-annals-sql');
  const readSameSqlMet = readSameSql === undefined ? undefined : readSameSql >= 0.8;
  const borderline = (met: boolean | undefined, values: readonly number[], target: number) =>
    met !== undefined && values.some((value) => value >= target !== met);
  return [
    {
      target: "Batched append (100 events per call) >= 80% of raw pg's multi-row insert",
      measured: `${batchRatio === undefined ? 'n/a' : percent(batchRatio)} (${formatRate(rate(batch, 'annals'))} vs ${formatRate(rate(batch, 'raw-pg'))} events/s)`,
      rounds: range(batchRounds, percent),
      met: batchRatio === undefined ? undefined : batchRatio >= 0.8,
      borderline: borderline(batchRatio === undefined ? undefined : batchRatio >= 0.8, batchRounds, 0.8),
    },
    {
      target: "Single-event append >= 1.5x Emmett's (at concurrency 1 and 16)",
      measured: single.map(({ ratio, at }) => `${ratio === undefined ? 'n/a' : times(ratio)} at ${at}`).join('; '),
      rounds: single.map(({ rounds, at }) => `${range(rounds, times)} at ${at}`).join('; '),
      met: singleMet,
      borderline: borderline(singleMet, single.flatMap(({ rounds }) => rounds), 1.5),
    },
    {
      target: 'Reading the global log >= 100,000 events/s',
      measured: `${formatRate(readRate)} events/s`,
      rounds: range(readRounds, (value) => `${formatRate(value)} events/s`),
      met: readRate === undefined ? undefined : readRate >= 100_000,
      borderline: borderline(readRate === undefined ? undefined : readRate >= 100_000, readRounds, 100_000),
    },
    {
      target: "Appends (single-event at concurrency 1 and 16, batches of 100) >= 0.85x raw pg sending Annals' SQL",
      measured: sameSql.map(({ figure, ratio }) => `${ratio === undefined ? 'n/a' : times(ratio)} ${shortTitle(figure)}`).join('; '),
      rounds: sameSql.map(({ figure, rounds }) => `${range(rounds, times)} ${shortTitle(figure)}`).join('; '),
      met: sameSqlMet,
      borderline: borderline(sameSqlMet, sameSql.flatMap(({ rounds }) => rounds), 0.85),
    },
    {
      target: "Reading the global log >= 0.8x raw pg running Annals' query",
      measured: readSameSql === undefined ? 'n/a' : times(readSameSql),
      rounds: range(readSameSqlRounds, times),
      met: readSameSqlMet,
      borderline: borderline(readSameSqlMet, readSameSqlRounds, 0.8),
    },
  ];
}

function verdict(check: TargetCheck): string {
  if (check.met === undefined) return 'not measured';
  const word = check.met ? '**met**' : '**not met**';
  return check.borderline ? `${word} (borderline: some rounds say otherwise)` : word;
}

function spreadTable(figures: readonly FigureResult[]): string {
  const names: ContestantName[] = ['annals', 'raw-pg-annals-sql', 'raw-pg', 'emmett', 'raw-pg-bigserial'];
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
  // The load average counts the benchmark's own callers and Postgres backends (16 at once
  // in some figures), so only other programs' Postgres sessions say the machine was shared.
  const shared = surroundings.busySamples > 0;
  return [
    `- Date: ${info.date.toISOString()} (the run took ${Math.round(info.seconds)} s), commit ${info.commit}`,
    `- CPU: ${machine.cpu}, ${machine.cores} cores; RAM: ${machine.ramGiB} GiB; ${machine.platform}`,
    `- Node ${machine.node}; ${machine.postgres}`,
    '- Postgres on the same machine, default settings (`synchronous_commit = on`: every append waits for its WAL flush).',
    `- Load: 1-minute load average up to ${surroundings.maxLoadAverage.toFixed(1)} during the run; other programs had non-idle Postgres sessions in ${surroundings.busySamples} of ${surroundings.samples} one-second samples (at most ${surroundings.maxOtherSessions} at once).`,
    shared
      ? `- **Shared machine**: other programs used Postgres during the run (see above). Absolute numbers are low and noisy; the ratios are the useful part, since every contestant ran interleaved with the others under the same conditions.`
      : `- No other program used Postgres during the run (programs that do not use it are not detected; the load average above includes the benchmark's own callers and backends). On ${machine.cores} cores, absolute numbers vary from run to run; the ratios are the useful part, since every contestant ran interleaved with the others under the same conditions.`,
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
  the start of the log, in a fresh process, after reading ${settings.readWarmupEvents.toLocaleString('en-US')} events to warm up; ${settings.readRounds} rounds in a
  rotating order, median rate. A reader still going after ${settings.readMaxMs / 1000} s is stopped and its rate is taken over
  what it read. Peak RSS is the reading process's high-water mark (\`process.resourceUsage().maxRSS\`,
  cross-checked with \`process.memoryUsage().rss\` sampled every page), highest over the rounds; it
  includes Node itself and each library's code.

What each contestant does:

| | append | read the global log |
|---|---|---|
| ${contestantLabels.annals} | \`store.appendToStream(id, events, { expectedVersion })\`: validation, one statement (stream row + events CTE) per call | \`store.iterateAll({ batchSize })\`, events mapped to \`RecordedEvent\` |
| ${contestantLabels['raw-pg-annals-sql']} | Plain \`pg\` sending Annals' own append statement, built by Annals' \`appendQuery\` (stream row, version check, appender lock, position from the transaction id, order and archive checks, events from one JSON array): one named prepared statement per call, as Annals runs it; no validation | Annals' own page statement (\`readAllQuery\`: the hot table bounded by \`annals_log_bound\`, merged with the archive), named, rows as \`pg\` returns them: Annals' SQL at its practical limit |
| ${contestantLabels['raw-pg']} | Hand-written \`pg\` on the same tables (created by Annals' migration): one named prepared statement per call, \`INSERT INTO streams ... ON CONFLICT DO UPDATE ... WHERE version = $expected\` + a multi-row \`INSERT INTO events ... VALUES (...), (...)\` with Annals' position formula \`(xid << 20) + n\`; no appender lock, no order or archive checks, no validation | keyset paging \`SELECT * ... WHERE global_position > $1 AND global_position < (xmin << 20) ORDER BY global_position LIMIT $2\` (named statement), rows as \`pg\` returns them: the least SQL that keeps streams, versions and a gap-safe log |
| ${contestantLabels.emmett} | \`eventStore.appendToStream(id, events, { expectedStreamVersion })\` (\`BEGIN\`; \`emt_append_to_stream(...)\`; \`COMMIT\`), pool of the same size | \`readMessagesBatch({ after, batchSize })\` in a loop: the query Emmett's consumers poll the log with (its batch puller would also sleep between batches; left out) |
| ${contestantLabels['raw-pg-bigserial']} | as raw pg, but \`global_position\` from a sequence default | the same keyset paging without the xmin bound, on Annals' table |
`;

/** Says whether the measured differences stand out from the noise, from the numbers. */
function gapSafetyVerdict(figures: readonly FigureResult[]): string {
  const ratios = figures.flatMap((figure) => {
    const value = ratio(rate(figure, 'raw-pg'), rate(figure, 'raw-pg-bigserial'));
    return value === undefined ? [] : [value];
  });
  if (ratios.length === 0) return '';
  const spread = `from ${Math.min(...ratios).toFixed(2)}x to ${Math.max(...ratios).toFixed(2)}x`;
  const bothWays = ratios.some((value) => value < 1) && ratios.some((value) => value > 1);
  return bothWays
    ? `The ratios go both ways (${spread}), within the window-to-window noise of this machine (see the spread above): no consistent cost shows. (In four earlier full runs while writing this suite, they also went both ways.)`
    : `The ratios run ${spread}; compare them with the window-to-window noise in the spread above before reading a cost into them.`;
}

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

${gapSafetyVerdict(figures)}

What the technique does cost is elsewhere: an event becomes visible to readers only once
every transaction that started before it has finished, so one long transaction anywhere on the
server delays the log's tail (never reorders it).
`;

/** What the figures say beyond the ratios, computed from them. */
function observations(figures: readonly FigureResult[]): string {
  // Milliseconds per call that one contestant takes over another (at concurrency 1 the
  // calls run one at a time, so this is the time each adds to a call).
  const extraMs = (id: FigureId, eventsPerCall: number, slower: ContestantName, faster: ContestantName) => {
    const figure = byId(figures, id);
    const slow = rate(figure, slower);
    const fast = rate(figure, faster);
    if (slow === undefined || fast === undefined) return 'n/a';
    return `${((1000 * eventsPerCall) / slow - (1000 * eventsPerCall) / fast).toFixed(2)} ms`;
  };
  return `## Observations

- Where an append's time goes, per call at concurrency 1: Annals' client (checking the input,
  serializing, kysely's driver) adds ${extraMs('append-single-c1', 1, 'annals', 'raw-pg-annals-sql')} to Annals' own statement sent through plain \`pg\`
  for one event, ${extraMs('append-batch', 100, 'annals', 'raw-pg-annals-sql')} for a batch of 100; Annals' statement takes ${extraMs('append-single-c1', 1, 'raw-pg-annals-sql', 'raw-pg')} longer
  than the minimal one for one event and ${extraMs('append-batch', 100, 'raw-pg-annals-sql', 'raw-pg')} for 100. What the statement's parts cost is
  measured piece by piece by \`npm run bench:append-cost\` (docs/benchmarks.md, "What an append
  costs").
- Reading: for every contestant most of the CPU goes to \`pg\` parsing rows (JSON, timestamps) and
  to garbage collection. Annals turns each row into a \`RecordedEvent\` (a \`BigInt\` position, a
  \`Date\`) and hands events out one by one through an async generator: ${formatRatio(rate(byId(figures, 'read-all'), 'annals'), rate(byId(figures, 'read-all'), 'raw-pg-annals-sql'))} the rate of its own page
  statement read through plain \`pg\`, with ${formatMiB(byId(figures, 'read-all')?.peakHeapBytes?.annals)} of peak V8 heap against ${formatMiB(byId(figures, 'read-all')?.peakHeapBytes?.['raw-pg-annals-sql'])}.
- Emmett 0.42 reads its log with \`ORDER BY transaction_id, global_position\` filtered on
  \`global_position\`, and \`emt_messages\` has no index on either column, so every page scans and
  sorts the whole table: its rate falls as the log grows. Its append is three round trips
  (\`BEGIN\`, the \`emt_append_to_stream\` function, \`COMMIT\`) against Annals' one.
`;
}

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

Ratios above 1.00x mean Annals is faster.${notes.length > 0 ? `\n\n${notes.map((note) => `- ${note}`).join('\n')}` : ''}

## Targets

${markdownTable(
  ['Target', 'Measured (medians)', 'Round by round', 'Verdict'],
  targets.map((check) => [check.target, check.measured, check.rounds, verdict(check)]),
)}

"Round by round": for appends, Annals' window divided by the other contestant's window of the
same round (they ran back to back); for reading, Annals' rate in each read. It shows how far the
machine's noise could move each verdict.${info.commands ? ' The commands target is in [Commands](#commands).' : ''}

## Spread

The measured windows (appends) and reads behind each median, in the order they ran:

${spreadTable(info.figures)}

${info.commands ? `${renderCommandsSection(info.commands)}
` : ''}${info.projections ? `${renderProjectionsSection(info.projections)}
` : ''}${observations(info.figures)}
${methodology()}
${gapSafety(info.figures)}
## Reproducing

\`npm run bench\` (Postgres from \`DATABASE_URL\` or \`BENCH_DATABASE_URL\`, default
\`postgres://postgres@127.0.0.1:5432/test\`). One figure alone: \`npx tsx bench/append-single.ts\`,
\`bench/append-batch.ts\`, \`bench/read-all.ts\`, \`bench/commands.ts\`, \`bench/load-time.ts\` or
\`bench/projections/figures.ts\` (or one contestant: \`bench/replay/annals-replay.ts\`, \`bench/replay/raw-sql-replay.ts\`,
\`bench/replay/emmett-replay.ts\`, \`bench/projections/latency.ts\`). Knobs:
\`BENCH_MEASURE_MS\`, \`BENCH_WARMUP_MS\`, \`BENCH_REWARM_MS\`, \`BENCH_ROUNDS\` (appends and commands),
\`BENCH_STREAMS\`, \`BENCH_READ_EVENTS\`, \`BENCH_READ_BATCH\`, \`BENCH_READ_WARMUP\`, \`BENCH_READ_MAX_MS\`,
\`BENCH_READ_ROUNDS\`, \`BENCH_COMMAND_ACCOUNTS\`, \`BENCH_LOAD_LENGTHS\` (comma-separated), \`BENCH_LOAD_ROUNDS\`,
\`BENCH_LOAD_STEP_MS\`, \`BENCH_LOAD_MAX_MS\`, \`REPLAY_EVENTS\`, \`REPLAY_POSTS\`, \`REPLAY_EMMETT_EVENTS\`,
\`LATENCY_RATE\`, \`LATENCY_SECONDS\`; \`BENCH_CHILD_ARGV\` adds Node flags to every
contestant's process (e.g. \`--cpu-prof --cpu-prof-dir=/tmp/profiles\` to profile them).

\`npm run bench:compare -- <commit> [--current <commit>] [--title <section>] [--only <parts>]\` runs
the append, read, command and projection figures of Annals at \`<commit>\` and at the working tree
(or \`--current\`) side by side in one run, and writes a section at the end of this page, which
\`npm run bench\` keeps. Each side runs its own checkout's store, domain and projections
(\`bench/annals-api.ts\`), so the baseline is driven through its own public API. \`--only\` takes a
comma-separated subset of \`appends\`, \`reads\`, \`commands\`, \`projections\`; \`--no-write\` prints the
section without writing it. Besides the knobs above: \`BENCH_REPLAY_ROUNDS\` (catch-up and rebuild
runs per side, default 5, on \`REPLAY_EVENTS\`, default 200,000 here) and \`BENCH_LATENCY_ROUNDS\`
(latency runs per side, default 3, of \`LATENCY_SECONDS\`, default 10 here).
`;
}

/** The console summary: the results table and the target verdicts. */
export function renderSummary(figures: readonly FigureResult[]): string {
  const targets = checkTargets(figures).map(
    (check) => `- ${check.target}: ${check.measured}; rounds ${check.rounds} -> ${verdict(check).replaceAll('*', '')}`,
  );
  return `${resultsTable(figures)}\n\n${targets.join('\n')}`;
}
