/**
 * `npm run bench:append-cost [-- --no-write]`: what each piece of Annals' append statement
 * costs (issue 17: "say what the remaining difference is spent on, measured"). Every step
 * of steps.ts runs through plain `pg` in this one process, on a schema of its own, in
 * measured windows interleaved round by round in a rotating order, as `npm run bench`
 * interleaves its contestants. Writes the section "What an append costs" of
 * docs/benchmarks.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createEventStore } from '../../src/index.js';
import { withSection } from '../compare/doc-section.js';
import { likeEvent, type LikeEvent } from '../contestants/contestant.js';
import {
  adminQuery,
  commitMeasured,
  databaseUrl,
  dropStoreSchemas,
  formatRate,
  formatRatio,
  freshName,
  machineDetails,
  markdownTable,
  runWorkers,
  settings,
} from '../harness.js';
import { median } from '../median.js';
import { steps, type Step } from './steps.js';

export const appendCostSectionTitle = 'What an append costs';

interface Figure {
  title: string;
  concurrency: number;
  eventsPerAppend: number;
}

const figures: Figure[] = [
  { title: 'single-event append, concurrency 1', concurrency: 1, eventsPerAppend: 1 },
  { title: 'single-event append, concurrency 16', concurrency: 16, eventsPerAppend: 1 },
  { title: 'batched append, 100 events per call, concurrency 1', concurrency: 1, eventsPerAppend: 100 },
];

/**
 * One step on its own schema; the caller keeps each stream's version. The steps share one
 * pool (a pool of 16 per step would exceed the server's connections), each naming its
 * statements after itself.
 */
class StepRunner {
  readonly versions = new Map<string, number>();

  constructor(
    readonly step: Step,
    readonly schema: string,
    readonly pool: pg.Pool,
  ) {}

  static async open(step: Step, pool: pg.Pool): Promise<StepRunner> {
    const schema = freshName(`cost_${step.key}`);
    const store = createEventStore({ connectionString: databaseUrl, maxConnections: 1 }, { schema });
    await store.migrate();
    await store.close();
    await adminQuery(step.setup(schema));
    return new StepRunner(step, schema, pool);
  }

  async append(streamId: string, events: readonly LikeEvent[]): Promise<void> {
    const version = this.versions.get(streamId) ?? 0;
    const statement = this.step.statement(this.schema, streamId, events, version);
    const { rowCount, rows } = await this.pool.query<{ version?: string | null }>({ ...statement, name: `${this.schema}_${statement.name}` });
    if (this.step.result === 'version' ? rows[0]?.version == null : rowCount !== events.length) throw new Error(`${this.step.label}: ${streamId} at version ${version} did not take the events`);
    this.versions.set(streamId, version + events.length);
  }

  /** A window of appends as the main benchmark makes them: worker w owns streams w, w + c, ... */
  window(figure: Figure, warmupMs: number): Promise<number> {
    const turns = new Array<number>(figure.concurrency).fill(0);
    return runWorkers({
      concurrency: figure.concurrency,
      warmupMs,
      measureMs: settings.measureMs,
      work: async (worker) => {
        const turn = turns[worker]!;
        turns[worker] = turn + 1;
        const stream = worker + figure.concurrency * (turn % Math.ceil(settings.streams / figure.concurrency));
        const streamId = `post-${stream}`;
        await this.append(streamId, Array.from({ length: figure.eventsPerAppend }, () => likeEvent(streamId)));
        return figure.eventsPerAppend;
      },
    }).then((throughput) => throughput.eventsPerSecond);
  }

  close(): Promise<void> {
    return dropStoreSchemas(this.schema);
  }
}

type Samples = Map<string, number[][]>;

async function measure(): Promise<Samples> {
  const samples: Samples = new Map(steps.map((step) => [step.key, figures.map(() => [])]));
  for (const [index, figure] of figures.entries()) {
    console.log(figure.title);
    // Fresh tables for each figure, as `npm run bench` gives each figure fresh schemas.
    // A fresh pool too: the statements named on the last figure's connections are gone with their schemas.
    const pool = new pg.Pool({ connectionString: databaseUrl, max: figure.concurrency });
    pool.on('error', () => {});
    const runners: StepRunner[] = [];
    try {
      for (const step of steps) runners.push(await StepRunner.open(step, pool));
      for (const runner of runners) await runner.window(figure, settings.warmupMs);
      for (let round = 0; round < settings.rounds; round++) {
        for (let turn = 0; turn < runners.length; turn++) {
          const runner = runners[(turn + round) % runners.length]!;
          samples.get(runner.step.key)![index]!.push(await runner.window(figure, settings.rewarmMs));
        }
      }
    } finally {
      await pool.end();
      for (const runner of runners) await runner.close();
    }
    for (const step of steps) console.log(`  ${step.label}: ${formatRate(median(samples.get(step.key)![index]!))} events/s`);
  }
  return samples;
}

function render(samples: Samples, header: string): string {
  const medians = (key: string) => samples.get(key)!.map((windows) => median(windows));
  const rows = steps.map((step, index) => {
    const own = medians(step.key);
    const before = index === 0 ? undefined : medians(steps[index - 1]!.key);
    return [
      `${index + 1}. ${step.label}`,
      ...own.flatMap((value, figure) => [formatRate(value), before ? formatRatio(value, before[figure]) : '']),
    ];
  });
  const headers = ['step (each leaves out one more piece)'];
  for (const figure of figures) headers.push(`${figure.title}: events/s`, 'over the step before');
  const table = markdownTable(headers, rows, ['left', ...figures.flatMap(() => ['right', 'right'] as const)]);
  return `${header}\n\n${table}\n\nMedians of ${settings.rounds} windows of ${settings.measureMs} ms per step and figure, interleaved round by round in a rotating order, each step on fresh tables, all through plain \`pg\` with named statements in one process (bench/append-cost/).`;
}

const { values: options } = parseArgs({ options: { 'no-write': { type: 'boolean', default: false } } });
const started = Date.now();
const machine = await machineDetails();
const samples = await measure();
const header = `Generated by \`npm run bench:append-cost\` on ${new Date().toISOString()} (${Math.round((Date.now() - started) / 1000)} s), commit ${commitMeasured()}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.postgres.split(' on ')[0]}, default settings.`;
const section = render(samples, header);
console.log(`\n${section}`);
if (!options['no-write']) {
  const file = new URL('../../docs/benchmarks.md', import.meta.url);
  await writeFile(file, withSection(await readFile(file, 'utf8'), appendCostSectionTitle, section));
  console.log(`\nWrote section "${appendCostSectionTitle}" of docs/benchmarks.md.`);
}
