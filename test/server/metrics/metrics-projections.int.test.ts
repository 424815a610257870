import { describe, expect, it } from 'vitest';
import { catchUpProjections, listDeadLetters, ProjectionStoppedError, runProjections, setupProjection, skipDeadLetter } from '../../../src/index.js';
import pg from 'pg';
import pino from 'pino';
import { createEventStore } from '../../../src/index.js';
import { likesService } from '../../graphql/support/likes-service.js';
import { eventually, testDatabaseUrl, useTestSchema } from '../../setup/database.js';
import { likeCountsProjection } from '../../projections/support/like-counts.js';
import { startService } from '../support/http.js';
import { scrape, samplesOf, valueOf } from './support/scrape.js';

const likes = await likesService('metrics_projections');
const { store } = likes;

/** A like in `category` (each projection below reads a category of its own). */
const like = (category: string, postId: string) =>
  store.appendToStream(`${category}-${postId}`, [{ type: 'LikeCreated', data: { postId, userId: 'ada' }, schemaVersion: 2 }]);

const fast = { retries: { attempts: 3, minDelayMs: 1, maxDelayMs: 5 } };

describe('projection figures on /metrics, read from the database at scrape time', () => {
  it('lag rises while a projection is behind and falls to 0 once it caught up', async () => {
    const steady = likeCountsProjection({ name: 'steady', categories: ['steady'] });
    await catchUpProjections(store, [steady]);
    const { url } = await startService({ store, ...likes.composed, metrics: { projections: [steady], storeFiguresMaxAgeMs: 0 } });
    const live = { projection: 'steady', generation: '1', status: 'live' };
    const before = await scrape(url);
    expect(valueOf(before, 'annals_projection_lag_events', live)).toBe(0);
    expect(valueOf(before, 'annals_log_events_appended_total')).toBe(0);

    await like('steady', 'a');
    // Log time passes between the oldest unprocessed event and the head.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await like('steady', 'b');
    const last = await like('steady', 'c');
    const behind = await scrape(url);
    expect(valueOf(behind, 'annals_projection_lag_events', live)).toBe(3);
    expect(valueOf(behind, 'annals_projection_oldest_unprocessed_age_seconds', live)).toBeGreaterThan(0);
    expect(valueOf(behind, 'annals_projection_lag_seconds', live)).toBeGreaterThanOrEqual(0.045);
    expect(valueOf(behind, 'annals_projection_lag_seconds', live)).toBeLessThanOrEqual(valueOf(behind, 'annals_projection_oldest_unprocessed_age_seconds', live)!);
    expect(valueOf(behind, 'annals_log_head_position')).toBe(Number(last.lastGlobalPosition));
    expect(valueOf(behind, 'annals_log_events_appended_total')).toBe(3);
    // No worker runs it now: its one partition is unowned.
    expect(valueOf(behind, 'annals_projection_partitions', { ...live, state: 'unowned' })).toBe(1);
    expect(valueOf(behind, 'annals_projection_partitions', { ...live, state: 'owned' })).toBe(0);

    await catchUpProjections(store, [steady]);
    const caughtUp = await scrape(url);
    expect(valueOf(caughtUp, 'annals_projection_lag_events', live)).toBe(0);
    expect(valueOf(caughtUp, 'annals_projection_lag_seconds', live)).toBe(0);
    expect(valueOf(caughtUp, 'annals_projection_oldest_unprocessed_age_seconds', live)).toBe(0);
    expect(valueOf(caughtUp, 'annals_projection_events_processed_total', live)).toBe(3);
    expect(valueOf(caughtUp, 'annals_log_events_appended_total')).toBe(3);
  });

  it('shows partitions owned while a worker runs them', async () => {
    const owned = likeCountsProjection({ name: 'owned', categories: ['owned'], partitions: 2 });
    const runner = runProjections(store, [owned], { pollIntervalMs: 50 });
    try {
      await runner.ready;
      const { url } = await startService({ store, ...likes.composed, metrics: { projections: [owned], storeFiguresMaxAgeMs: 0 } });
      const metrics = await scrape(url);
      expect(valueOf(metrics, 'annals_projection_partitions', { projection: 'owned', state: 'owned' })).toBe(2);
    } finally {
      await runner.stop();
    }
  });

  it('counts dead letters, pending and ever, and retries, of a projection the service only finds in the database', async () => {
    const flaky = likeCountsProjection({ name: 'flaky', categories: ['flaky'], failOn: (postId) => postId === 'bad' });
    await like('flaky', 'good');
    await like('flaky', 'bad');
    await catchUpProjections(store, [flaky], fast);
    // No `projections` option: the service reads which projections exist from the database.
    const { url } = await startService({ store, ...likes.composed, metrics: { storeFiguresMaxAgeMs: 0 } });
    const generation = { projection: 'flaky', generation: '1', status: 'live' };
    const metrics = await scrape(url);
    expect(valueOf(metrics, 'annals_projection_dead_letters_pending', { projection: 'flaky' })).toBe(1);
    expect(valueOf(metrics, 'annals_projection_dead_lettered_total', generation)).toBe(1);
    expect(valueOf(metrics, 'annals_projection_retries_total', generation)).toBeGreaterThanOrEqual(2);
    expect(valueOf(metrics, 'annals_projection_lag_events', generation)).toBe(0);

    const [letter] = await listDeadLetters(store, { projection: 'flaky' });
    await skipDeadLetter(store, letter!.id);
    const after = await scrape(url);
    expect(valueOf(after, 'annals_projection_dead_letters_pending', { projection: 'flaky' })).toBe(0);
    expect(valueOf(after, 'annals_projection_dead_lettered_total', generation)).toBe(1);
  });

  it('counts a partition stopped on a failure', async () => {
    const stopping = likeCountsProjection({ name: 'stopping', categories: ['stopping'], failOn: (postId) => postId === 'bad' });
    await like('stopping', 'bad');
    await expect(catchUpProjections(store, [stopping], { ...fast, onFailure: 'stop' })).rejects.toBeInstanceOf(ProjectionStoppedError);
    const { url } = await startService({ store, ...likes.composed, metrics: { projections: [stopping], storeFiguresMaxAgeMs: 0 } });
    const metrics = await scrape(url);
    expect(valueOf(metrics, 'annals_projection_partitions', { projection: 'stopping', state: 'stopped' })).toBe(1);
    expect(valueOf(metrics, 'annals_projection_lag_events', { projection: 'stopping' })).toBe(1);
  });

  it('a rebuild shows as a building generation with its progress, and goes once switched', async () => {
    const v1 = likeCountsProjection({ name: 'rebuilt', categories: ['rebuilt'] });
    await like('rebuilt', 'a');
    await catchUpProjections(store, [v1]);
    const v2 = likeCountsProjection({ name: 'rebuilt', categories: ['rebuilt'], version: 2 });
    const { url } = await startService({ store, ...likes.composed, metrics: { projections: [v2], storeFiguresMaxAgeMs: 0 } });
    // Setting v2 up starts its rebuild; no worker runs it yet.
    await setupProjection(store, v2);
    const building = await scrape(url);
    expect(valueOf(building, 'annals_projection_rebuild_progress_ratio', { projection: 'rebuilt', generation: '2' })).toBe(0);
    expect(valueOf(building, 'annals_projection_lag_events', { projection: 'rebuilt', generation: '2', status: 'building' })).toBe(1);
    await catchUpProjections(store, [v2]);
    const switched = await scrape(url);
    expect(samplesOf(switched, 'annals_projection_rebuild_progress_ratio').filter((s) => s.labels.projection === 'rebuilt')).toEqual([]);
    expect(valueOf(switched, 'annals_projection_lag_events', { projection: 'rebuilt', generation: '2', status: 'live' })).toBe(0);
    // The retired generation's series are gone.
    expect(valueOf(switched, 'annals_projection_events_processed_total', { projection: 'rebuilt', generation: '1' })).toBeUndefined();
  });
});

describe('the cost of reading the figures is bounded', () => {
  it('concurrent scrapes share one read', async () => {
    const one = await startService({ store, ...likes.composed, metrics: { processMetrics: false } });
    const many = await startService({ store, ...likes.composed, metrics: { processMetrics: false } });
    const single = await likes.statements.during(() => scrape(one.url));
    const concurrent = await likes.statements.during(() => Promise.all(Array.from({ length: 10 }, () => scrape(many.url))));
    expect(single.length).toBeGreaterThan(0);
    expect(concurrent).toHaveLength(single.length);
  });

  it('figures are reused while fresh, and say how old they are', async () => {
    const { url } = await startService({ store, ...likes.composed, metrics: { storeFiguresMaxAgeMs: 60_000 } });
    const first = await scrape(url);
    await like('reuse', 'a');
    const second = await scrape(url);
    expect(valueOf(second, 'annals_log_head_position')).toBe(valueOf(first, 'annals_log_head_position'));
    expect(valueOf(second, 'annals_store_figures_age_seconds')).toBeGreaterThan(0);
    expect(valueOf(second, 'annals_store_read_errors_total')).toBe(0);
  });

  it('a scrape does not wait on a read that is held up: it answers with the last figures, and the next one gets the new', async () => {
    const { url } = await startService({ store, ...likes.composed, metrics: { storeFiguresMaxAgeMs: 0, storeReadTimeoutMs: 300 } });
    // The first read may take longer than the scrape waits: until it is done, no head is shown.
    const before = await eventually(async () => {
      const first = await scrape(url);
      expect(valueOf(first, 'annals_log_head_position')).toBeGreaterThan(0);
      return first;
    });
    const blocker = new pg.Client({ connectionString: testDatabaseUrl });
    await blocker.connect();
    try {
      // Holds every reader of the partitions' table until released.
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${store.schema}".consumer_partitions IN ACCESS EXCLUSIVE MODE`);
      await like('held', 'a');
      const held = await scrape(url);
      expect(held.status).toBe(200);
      expect(valueOf(held, 'annals_log_head_position')).toBe(valueOf(before, 'annals_log_head_position'));
      expect(valueOf(held, 'annals_store_figures_age_seconds')).toBeGreaterThan(0);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    await eventually(async () => {
      const after = await scrape(url);
      expect(valueOf(after, 'annals_log_head_position')).toBeGreaterThan(valueOf(before, 'annals_log_head_position')!);
    });
  });

  it('a read that fails is counted and logged, and the last figures are shown meanwhile', async () => {
    const { schema } = useTestSchema('metrics_closed');
    const own = createEventStore({ connectionString: testDatabaseUrl }, { schema });
    await own.migrate();
    await own.appendToStream('closing-1', [{ type: 'Opened', data: {} }]);
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const { url } = await startService({ store: own, ...likes.composed, logger, metrics: { storeFiguresMaxAgeMs: 0 } });
    const before = await scrape(url);
    await own.close();
    const after = await scrape(url);
    expect(after.status).toBe(200);
    expect(valueOf(after, 'annals_store_read_errors_total')).toBe(1);
    expect(valueOf(after, 'annals_log_head_position')).toBe(valueOf(before, 'annals_log_head_position'));
    expect(warnings.some((line) => line.includes('could not read the log and projection figures') && line.includes('ANNALS_STORE_CLOSED'))).toBe(true);
  });

  it('storeFigures: false reads nothing from the database at scrape time', async () => {
    const { url } = await startService({ store, ...likes.composed, metrics: { storeFigures: false, processMetrics: false } });
    const statements = await likes.statements.during(() => scrape(url));
    expect(statements).toEqual([]);
  });
});
