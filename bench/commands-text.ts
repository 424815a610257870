/**
 * The prose of the "Commands" section: what limits Annals' command throughput (from the
 * figures, and from measurements taken while writing this suite) and how the figures
 * are measured.
 */
import type { CommandResults } from './commands-report.js';
import { commandAmount, openingDeposit } from './contestants/bank-contestant.js';
import { commandConcurrency, formatMs, formatRate, formatTimes as times, settings } from './harness.js';
import type { LoadTimeFigure } from './load-time.js';

/** Milliseconds of each Annals variant at the shortest length (no snapshot written yet). */
function shortLoad(load: LoadTimeFigure | undefined): string {
  const index = load?.lengths.findIndex((length) => length < 50) ?? -1;
  if (!load || index < 0) return '';
  const length = load.lengths[index]!;
  return ` In the load-time figure a ${length}-event stream (no snapshot yet) loads in ${formatMs(load.ms.annals?.[index])} ms with the policy and ${formatMs(load.ms['annals-no-snapshots']?.[index])} ms without.`;
}

/** What the figures (and measurements taken while writing this suite) say about Annals' limits. */
export function limits(results: CommandResults): string {
  const many = results.figures.find((figure) => figure.id === 'commands-many');
  const withSnapshots = many?.commandsPerSecond.annals;
  const without = many?.commandsPerSecond['annals-no-snapshots'];
  // Events per stream by the end: the 2 opening events, plus the commands of the measured
  // windows and of the warm-up before each (at the same rate, roughly).
  const perAccount = many?.succeeded.annals === undefined ? undefined : many.succeeded.annals / settings.commandAccounts;
  const warmup = (settings.warmupMs + (settings.rounds - 1) * settings.rewarmMs) / (settings.rounds * settings.measureMs);
  const noSnapshots =
    perAccount !== undefined && 2 + perAccount * (1 + warmup) < 50
      ? ` no stream gets near 50 events (about ${Math.round(perAccount)} commands per account over the measured windows), so no snapshot is ever written.`
      : ' few streams reach 50 events.';
  const snapshotCost =
    withSnapshots === undefined || without === undefined
      ? ''
      : ` Yet the same aggregate without a snapshot policy handled ${formatRate(without)} commands/s against Annals' ${formatRate(withSnapshots)} (${times(without / withSnapshots)}).`;
  return `### What limits Annals' command throughput

- **Statements per command.** \`handleCommand\` sends three: the snapshot read, the stream read and
  the append (plus the snapshot write every 50 events); without a snapshot policy, two. Emmett sends
  four: the stream read, \`BEGIN\`, \`emt_append_to_stream\`, \`COMMIT\` (counted with a patched \`pg\`
  client while writing this suite). Annals sends fewer; what holds it back is what each one costs.
- **The snapshot read costs a statement even when there is nothing to find.** On ${settings.commandAccounts.toLocaleString('en-US')} aggregates${noSnapshots}${snapshotCost}${shortLoad(results.loadTime)}
  \`readSnapshot\` is also built with kysely and sent unnamed, so Postgres plans it on every call.
- **The stream read is rebuilt on every call.** \`readStream\` composes its kysely query (a lateral
  join on the stream row) before sending it as a named statement. Measured while writing this suite at
  concurrency 1: \`store.readStream\` of a 6-event stream took 380-490 µs, its own SQL sent by hand as a
  named statement 100-136 µs, a bare \`SELECT 1\` 54-93 µs; in a CPU profile of the 1,000-aggregate
  workload kysely's query building was ~16% of the Annals process's time.
- **What-if.** The load as one named statement (the snapshot and the events after it; text built once
  per schema, as the append statement is), everything else Annals' own (command parsed by zod, events
  decoded and encoded by the codec, \`store.appendToStream\`), measured while writing this suite in
  2 s windows on 1,000 aggregates with 16 callers: median 1,940 commands/s (1,590 to 2,110 over 12
  windows) against \`handleCommand\`'s 1,070 (860 to 1,290) alternating in the same processes, and
  Emmett's \`CommandHandler\` 1,180 (990 to 1,360 over 9 windows) run the same way: about 1.65x
  Emmett, where \`handleCommand\` was about 0.9x. Proposed change: load the
  snapshot and the tail in one statement prepared once per schema (a \`loadAggregate\` query in
  src/event-store, or \`readStream\` joining the snapshot), and no kysely building on the command path.
- **Empty tails.** A load that finds no event after its snapshot (as in the load-time figure, where the
  snapshot is at the head) or no stream at all then reads the stream row (\`getStreamInfo\`) to rule
  out truncation: a third statement. The stream read already joins that row; returning its
  \`truncate_before\` with the page would save it.
- **One hot aggregate.** Every caller in the process races the others for the same stream. With the
  defaults, separately measured: 2.3-3.1 append attempts per command that succeeded; each failed
  attempt costs one more statement (\`getStreamInfo\`, to name the actual version in the
  \`ConcurrencyError\`); and the first retry waits exactly 5 ms for every loser (\`jitteredDelay\`
  spreads between \`min\` and \`min * 2^attempt\`, which is no spread at attempt 0), so they retry in
  lockstep. Queueing the commands of one stream inside the process (a promise chain per stream in
  front of \`handleCommand\`) gave 388-426 commands/s with no conflict at all, against 102-284 without.
  Proposed change: serialize commands per stream id inside a store, so conflicts only arise between
  processes, and jitter from the first retry.
`;
}

export const commandsMethodology = (): string => `### How the command figures are measured

- **Same decisions.** Annals runs \`handleCommand(store, bankAccount, id, command)\` with the domain's
  \`bankAccount\` (snapshots every 50 events) and its defaults: 10 retries after a version
  conflict, jittered exponential backoff from 5 to 500 ms, no command id. Emmett runs
  \`CommandHandler({ evolve, initialState })(eventStore, 'account-<id>', (state) => decide(command, state))\`
  with the domain's very own \`initialState\`, \`evolve\` and \`decide\`, so both make the same decisions
  with the same code. Annals also validates each command and each event with the domain's zod
  schemas; Emmett does not validate. "Annals, no snapshots" is the same aggregate defined without
  its \`snapshots\` policy.
- **Retries.** Emmett's \`CommandHandler\` does not retry by default: a version conflict fails the
  command. "Emmett, retry on conflict" (informative) passes \`retry: { onVersionConflict: true }\`,
  Emmett's own policy: 3 retries, 100 ms then x1.5, no jitter. A command that fails (after
  retries, if any) counts as failed and its caller moves on to the next command; commands/s counts
  only the commands that succeeded.
- **Workload.** Each account is opened first (\`OpenAccount\`, then a deposit of ${openingDeposit.toLocaleString('en-US')}; not measured),
  so no withdrawal can be refused. Each caller then alternates deposits and withdrawals of ${commandAmount}.
  ${commandConcurrency} callers, each with one command in flight, and a pool of as many connections.
  *One hot aggregate*: every caller works on the same account, a fresh one for every window, so
  each window starts from a 2-event stream. *${settings.commandAccounts.toLocaleString('en-US')} aggregates*: caller \`w\` owns accounts
  \`w, w + ${commandConcurrency}, ...\` and works on them in turn: no two commands race, nobody retries.
- **Windows.** As for appends: each contestant in its own process, on a fresh schema (Emmett: a
  fresh database), ${settings.warmupMs} ms of warm-up, then ${settings.rounds} windows of ${settings.measureMs} ms (each after ${settings.rewarmMs} ms of
  re-warming) interleaved with the other contestants' in a rotating order; the figure is the median.
- **Load time.** Streams of each length are written once per library with batched appends of
  10,000 events (an \`AccountOpened\`, then deposits of 1). For Annals the last event goes
  through \`handleCommand\`, which writes the snapshot as in production: at lengths that are a
  multiple of 50, the snapshot sits at the head of the stream, so a load reads it and an empty
  tail; a 10-event stream has no snapshot yet. Both Annals variants load the same streams; the one
  without snapshots replays every event. Emmett loads with \`eventStore.aggregateStream(stream,
  { evolve, initialState })\`, what its \`CommandHandler\` runs before deciding; Annals with
  \`loadAggregate(store, aggregate, id)\`, what \`handleCommand\` runs. After one unmeasured load,
  ${settings.loadRounds} measured steps per contestant and length, rotating; a step repeats the load for at least
  ${settings.loadStepMs} ms and takes the median, and every load must return version = length and
  balance = length - 1.
`;
