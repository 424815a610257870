/**
 * The prose of the "Commands" section: what limits Annals' command throughput (from the
 * figures, and from measurements taken while writing this suite) and how the figures
 * are measured.
 */
import { commandAmount, openingDeposit } from './contestants/bank-contestant.js';
import { commandConcurrency, formatRate, formatTimes as times, settings } from './harness.js';
import type { CommandResults } from './results.js';

/** What the figures (and measurements taken while writing this suite) say about Annals' limits. */
export function limits(results: CommandResults): string {
  const many = results.figures.find((figure) => figure.id === 'commands-many');
  const withSnapshots = many?.commandsPerSecond.annals;
  const without = many?.commandsPerSecond['annals-no-snapshots'];
  const snapshotCost =
    withSnapshots === undefined || without === undefined
      ? ''
      : ` In this run the aggregate without a snapshot policy handled ${formatRate(without)} commands/s against ${formatRate(withSnapshots)} with it (${times(without / withSnapshots)}). The streams of this figure are short, so the snapshot rarely saves reading events, while looking it up costs on every load: measured with pgbench while writing this suite, a load of a 31-event stream without a snapshot took about 0.13 ms through \`readStreamFromSnapshot\` against 0.10 ms through \`readStream\`, one client, round trip included. Snapshots pay off on long streams (the load-time table).`;
  const cached = many?.commandsPerSecond['annals-cached'];
  const cacheGain =
    withSnapshots === undefined || cached === undefined
      ? ''
      : ` In this run it handled ${formatRate(cached)} commands/s on ${settings.commandAccounts.toLocaleString('en-US')} aggregates against ${formatRate(withSnapshots)} without (${times(cached / withSnapshots)}).`;
  return `### What limits Annals' command throughput

- **Statements per command.** \`handleCommand\` sends two: the load (\`readStreamFromSnapshot\`: the
  stream row, the snapshot of the aggregate's snapshot version and the events after it, in one
  prepared statement) and the append (one prepared statement); every 50 events, a third writes the
  snapshot. Emmett sends four: the stream read, \`BEGIN\`, \`emt_append_to_stream\`, \`COMMIT\`
  (counted with a patched \`pg\` client while writing this suite).${snapshotCost}
- **Where the time goes on ${settings.commandAccounts.toLocaleString('en-US')} aggregates.** Both sides of the loopback connection are busy:
  in a sample taken while writing this suite (16 callers, in process, 2 cores), the Node process used
  about 0.7 of a core and the 16 Postgres backends about 1 core together. In a CPU profile of the
  Node process, ~42% of its samples were in the socket \`writev\` (the kernel's loopback path, once per
  statement), ~8% in \`pg\` parsing rows, ~4% in kysely's driver, ~5% in zod and Annals' validation,
  ~4% in garbage collection. Reading 25 events after a snapshot or 60 without one made no measurable
  difference, nor did leaving the metadata column out: what is left is the cost of each statement, on
  both sides, not of the rows.
- **The state cache.** With \`cache: { maxStreams }\` on the aggregate, \`handleCommand\` keeps the
  state each command leaves behind and appends the next command of the stream without loading it:
  one statement per command instead of two.${cacheGain} Commands of one stream in one process are
  queued, so the callers of one hot aggregate no longer race each other: conflicts only arise
  between processes, and each costs a failed append and a reload. Anything but a successful
  append is decided again on a fresh load, so the answers are those of an uncached handler
  (docs/aggregates.md lists the rare ways a cached state can differ from a loaded one). These figures run in one process with every account in the cache: the
  best case for it. Emmett has no such cache.
- **One hot aggregate, default.** Every caller in the process races the others for the same
  stream; the losers reload and retry with full jitter.
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
  its \`snapshots\` policy; "Annals, state cache" the same aggregate with its snapshots and
  \`cache: { maxStreams: 10000 }\` (every account of the figures fits).
- **Retries.** Emmett's \`CommandHandler\` does not retry by default: a version conflict fails the
  command. "Emmett, retry on conflict" (informative) passes \`retry: { onVersionConflict: true }\`,
  Emmett's own policy: 3 retries, 100 ms then x1.5, no jitter. A command that fails (after
  retries, if any) counts as failed and its caller moves on to the next command; commands/s counts
  only the commands that succeeded.
- **Workload.** Each account is opened first (\`OpenAccount\`, then a deposit of ${openingDeposit.toLocaleString('en-US')}; not measured),
  so no withdrawal can be refused (Annals seals the owner's name, personal data, with a key of its own: docs/privacy.md; Emmett stores it as it is). Each caller then alternates deposits and withdrawals of ${commandAmount}.
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
