/**
 * The outbox figures as tables: on stdout, and as the generated part of their section of
 * docs/benchmarks.md (text written by hand after the section's end marker stays).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { withSection } from '../compare/doc-section.js';
import { formatMs, formatRate, markdownTable } from '../harness.js';
import { median } from '../median.js';
import type { LatencyContestant, LatencyWindow } from './commit-latency.js';
import type { OutboxRun } from './outbox-figures.js';
import { largeBatchSize, type ThroughputContestant, type ThroughputRound } from './relay-throughput.js';

export const outboxSectionTitle = 'Issue 15: the outbox relay to NATS JetStream';

/** The target: the relay at least this share of the plain client's messages/s. */
export const throughputTarget = 0.5;

const times = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? 'n/a' : `${value.toFixed(2)}x`);
const rates = (rounds: readonly ThroughputRound[], contestant: ThroughputContestant) => rounds.filter((r) => r.contestant === contestant).map((r) => r.messagesPerSecond);
const windowsOf = (windows: readonly LatencyWindow[], contestant: LatencyContestant) => windows.filter((w) => w.contestant === contestant);
const medianOr = (values: readonly number[]) => (values.length === 0 ? undefined : median(values));

const cpu = (run: OutboxRun, contestant: ThroughputContestant) =>
  medianOr(run.throughput.filter((r) => r.contestant === contestant).map((r) => r.cpuShare))?.toFixed(2) ?? 'n/a';

/** The relay's rate over the plain client's, round by round (they ran back to back). */
function sameRoundRatios(run: OutboxRun, contestant: ThroughputContestant = 'relay', yardstick: ThroughputContestant = 'plain'): number[] {
  const [relay, plain] = [rates(run.throughput, contestant), rates(run.throughput, yardstick)];
  return relay.flatMap((rate, round) => (plain[round] ? [rate / plain[round]] : [])).sort((a, b) => a - b);
}

export function renderOutboxSummary(run: OutboxRun): string {
  const ratios = sameRoundRatios(run);
  const ratio = medianOr(ratios);
  const { settings } = run;
  const large = sameRoundRatios(run, 'relay-large-batches');
  const perKey = sameRoundRatios(run, 'plain-per-key');
  const againstPerKey = sameRoundRatios(run, 'relay', 'plain-per-key');
  const throughput = markdownTable(
    [`${formatRate(settings.events)} messages already in the log, each acked (median of ${settings.rounds} rounds)`, 'messages/s', 'over the plain client, same round', 'process CPU / wall'],
    [
      ['plain JetStream client', formatRate(medianOr(rates(run.throughput, 'plain'))), '1x', cpu(run, 'plain')],
      [`outbox relay, defaults (batches of 1,000)`, formatRate(medianOr(rates(run.throughput, 'relay'))), `${times(ratio)} (rounds ${times(ratios[0])} to ${times(ratios.at(-1))})`, cpu(run, 'relay')],
      [`outbox relay, batchSize ${formatRate(largeBatchSize)}`, formatRate(medianOr(rates(run.throughput, 'relay-large-batches'))), `${times(medianOr(large))} (rounds ${times(large[0])} to ${times(large.at(-1))})`, cpu(run, 'relay-large-batches')],
      ['plain JetStream client, one message in flight per key (the relay\'s order)', formatRate(medianOr(rates(run.throughput, 'plain-per-key'))), `${times(medianOr(perKey))} (rounds ${times(perKey[0])} to ${times(perKey.at(-1))})`, cpu(run, 'plain-per-key')],
    ],
    ['left', 'right', 'right', 'right'],
  );
  const met = ratio !== undefined && ratio >= throughputTarget;
  const verdict =
    `- Relay (defaults) >= ${throughputTarget}x the plain client's messages/s: ${times(ratio)} -> ${ratio === undefined ? 'not measured' : met ? 'met' : 'NOT met'}\n` +
    `- Relay (defaults) against the plain client keeping one message in flight per key: ${times(medianOr(againstPerKey))} (rounds ${times(againstPerKey[0])} to ${times(againstPerKey.at(-1))})`;
  const latencyRow = (label: string, pick: (w: LatencyWindow) => number) => [
    label,
    ...(['relay', 'after-commit'] as const).map((c) => formatMs(medianOr(windowsOf(run.latency, c).map(pick)))),
  ];
  const latency = markdownTable(
    [`commit to a JetStream consumer at ${settings.latencyRate} appends/s (median of ${settings.latencyRounds} windows of ${settings.latencyWindowSeconds} s)`, 'outbox relay', 'publish after commit'],
    [latencyRow('p50 (ms)', (w) => w.p50Ms), latencyRow('p99 (ms)', (w) => w.p99Ms), latencyRow('max (ms)', (w) => w.maxMs), latencyRow('appends/s made', (w) => w.rate)],
    ['left', 'right', 'right'],
  );
  return `${throughput}\n\n${verdict}\n\n${latency}`;
}

function everyRound(run: OutboxRun): string {
  const list = (values: readonly number[], format: (value: number) => string) => values.map(format).join(' / ') || '-';
  return markdownTable(
    ['every measured round or window, in the order run', 'outbox relay', 'plain client / publish after commit'],
    [
      ['throughput (messages/s)', list(rates(run.throughput, 'relay'), formatRate), list(rates(run.throughput, 'plain'), formatRate)],
      [`throughput, relay with batchSize ${formatRate(largeBatchSize)} (messages/s)`, list(rates(run.throughput, 'relay-large-batches'), formatRate), ''],
      ['latency p50 (ms)', list(windowsOf(run.latency, 'relay').map((w) => w.p50Ms), formatMs), list(windowsOf(run.latency, 'after-commit').map((w) => w.p50Ms), formatMs)],
      ['latency p99 (ms)', list(windowsOf(run.latency, 'relay').map((w) => w.p99Ms), formatMs), list(windowsOf(run.latency, 'after-commit').map((w) => w.p99Ms), formatMs)],
    ],
  );
}

const loads = (values: readonly number[]) => values.map((value) => value.toFixed(2)).join(', ');

function machineLines(run: OutboxRun): string[] {
  const { machine, surroundings } = run;
  const shared = surroundings.busySamples > 0 || surroundings.maxLoadAverage > machine.cores;
  return [
    `- Date: ${run.date.toISOString()}; the run took ${Math.round(run.seconds)} s; commit ${run.commit}.`,
    `- ${machine.cores} CPUs (nproc), ${machine.cpu}; RAM ${machine.ramGiB} GiB; ${machine.platform}.`,
    `- Node ${machine.node}; ${machine.postgres.replace(/ on .*/, '')}, on the same machine, default settings; ${run.natsServer}, a private server of the run on the same machine (JetStream, file storage, default settings).`,
    `- Load average (1, 5, 15 min): ${loads(run.loadBefore)} before the run, ${loads(run.loadAfter)} after; the 1-minute figure reached ${surroundings.maxLoadAverage.toFixed(1)} during it. Other programs had non-idle Postgres sessions in ${surroundings.busySamples} of ${surroundings.samples} one-second samples (at most ${surroundings.maxOtherSessions} at once).`,
    ...(shared ? ['- **Preliminary**: the machine was shared with other programs during this run; absolute figures are low and noisy, the same-round ratio is the useful part.'] : []),
  ];
}

export function renderOutboxSection(run: OutboxRun): string {
  const { settings } = run;
  return `Generated by \`npx tsx bench/outbox/run-outbox.ts\` (bench/outbox/): the outbox relay and a plain
JetStream client side by side in one run, on the same Postgres and the same private nats-server,
rounds interleaved in a rotating order.

${renderOutboxSummary(run)}

- **Throughput**: ${formatRate(settings.events)} likes (LikeCreated and LikeRemoved, as in the example domain) on
  ${formatRate(settings.posts)} posts already in the log, appended by 16 concurrent writers so keys interleave. Each
  round, a new outbox (\`runOutboxRelay\` with \`natsPublisher\`, ${settings.partitions} partitions and ${settings.concurrency} lanes
  each: the defaults) publishes all of them from the start of the log into a new stream, every
  publish acknowledged before its batch's checkpoint moves; timed from the relay's start to the
  batch that completes the last message (reading the log, mapping and checking each payload with
  its zod schema, the JetStream acks, the checkpoint writes). The plain client is
  \`@nats-io/jetstream\`'s \`js.publish\` of the same messages (the same subjects, envelopes,
  headers and \`Nats-Msg-Id\`, on a connection with \`noAsyncTraces\` as the relay's publisher
  makes), held in memory, with the relay's most publishes in flight
  (${settings.partitions * settings.concurrency}: partitions x lanes), each awaiting its ack; a stream of its own made before the
  clock starts (the relay's too). Both in the benchmark's Node process, one at a time. The
  relay runs twice per round: with its defaults, and with \`batchSize: ${formatRate(largeBatchSize)}\` (everything else the
  same). "Process CPU / wall": the benchmark process's CPU time (user and system) over the
  round's wall time; well below 1, the contestant spent most of its time waiting (on Postgres
  round trips, on acks), not computing.
- **Latency**: one like per append, appended on an open loop at ${settings.latencyRate}/s (each append sent on
  schedule, whether the last one returned or not), and a JetStream consumer reading the stream;
  a like's latency runs from its append returning (committed) to the consumer receiving its
  message (a message received before its append returned counts 0). The relay runs in a
  process of its own with its default options (woken by the log's notifications, polling every
  second as a fallback). "Publish after commit" is the dual write the outbox replaces: the
  appender publishes to JetStream itself once the append returned, and awaits the ack (fast,
  but a process that dies between the two loses the message). ${settings.latencyWarmupSeconds} s of each before the first
  window, unmeasured.

${machineLines(run).join('\n')}

<details><summary>Every measured round</summary>

${everyRound(run)}

</details>`;
}

export async function writeOutboxSection(run: OutboxRun, reportFile = new URL('../../docs/benchmarks.md', import.meta.url)): Promise<void> {
  const page = await readFile(reportFile, 'utf8');
  await writeFile(reportFile, withSection(page, outboxSectionTitle, renderOutboxSection(run)));
}
