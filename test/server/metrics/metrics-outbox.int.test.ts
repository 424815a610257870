import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PublishError, ValidationError, type EventStore } from '../../../src/index.js';
import { defineOutbox } from '../../../src/outbox/define-outbox.js';
import type { OutboxMessage } from '../../../src/outbox/message.js';
import { listParkedMessages, skipParkedMessage } from '../../../src/outbox/parked-messages.js';
import { createService } from '../../../src/server/create-service.js';
import { outboxRelayMetrics } from '../../../src/server/metrics/outbox-metrics.js';
import { RecordingPublisher } from '../../outbox/support/recording-publisher.js';
import { relays } from '../../outbox/support/relay-harness.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { startService } from '../support/http.js';
import { scrape, samplesOf, valueOf } from './support/scrape.js';

const store: EventStore = await createTestStore('metrics_outbox');
const start = relays();
const schema = 'type Query { ok: Boolean }';
const fresh = { storeFiguresMaxAgeMs: 0, processMetrics: false };

/** Every event of `category` to the destination `out`, its data as the payload. */
function outboxOf(name: string, category: string, publisher: RecordingPublisher) {
  return defineOutbox({ name, partitions: 2, destinations: { out: { publisher } }, routes: [{ destination: 'out', categories: [category], schema: z.object({ n: z.number() }) }] });
}

const append = (streamId: string, count: number) =>
  store.appendToStream(streamId, Array.from({ length: count }, (_, i) => ({ type: 'Numbered', data: { n: i + 1 } })));

const refused = (message: OutboxMessage) => new PublishError({ destination: message.destination, messageId: message.id }, 'too large', { retryable: false });

describe('outbox figures on /metrics', () => {
  // Catches: counters that never move (the hook not called, or not wired to the service's
  // registry), a pending gauge that ignores the checkpoint, series missing before the first publish.
  it('counts what a relay in the process publishes, and shows the backlog draining', async () => {
    const publisher = new RecordingPublisher();
    const outbox = outboxOf('flow', 'mof', publisher);
    await append('mof-1', 2);
    await append('mof-2', 1);
    const service = await startService({ store, schema, outboxes: [outbox], metrics: fresh });
    const series = { outbox: 'flow', destination: 'out' };

    const before = await scrape(service.url);
    expect(valueOf(before, 'annals_outbox_pending_messages', series)).toBe(3);
    expect(valueOf(before, 'annals_outbox_oldest_pending_age_seconds', series)).toBeGreaterThanOrEqual(0);
    expect(valueOf(before, 'annals_outbox_messages_published_total', series)).toBe(0);
    expect(valueOf(before, 'annals_outbox_publish_failures_total', { ...series, retryable: 'true' })).toBe(0);
    expect(valueOf(before, 'annals_outbox_messages_parked_total', series)).toBe(0);
    expect(valueOf(before, 'annals_outbox_parked_messages', series)).toBe(0);
    expect(valueOf(before, 'annals_outbox_held_messages', series)).toBe(0);

    start(store, outbox, { metrics: outboxRelayMetrics(service.app) });
    await eventually(async () => expect(publisher.received).toHaveLength(3));
    const after = await eventually(async () => {
      const scraped = await scrape(service.url);
      expect(valueOf(scraped, 'annals_outbox_pending_messages', series)).toBe(0);
      return scraped;
    });
    expect(valueOf(after, 'annals_outbox_messages_published_total', series)).toBe(3);
    expect(valueOf(after, 'annals_outbox_oldest_pending_age_seconds', series)).toBe(0);
    expect(valueOf(after, 'annals_outbox_read_errors_total')).toBe(0);
  });

  // Catches: failures counted without their retryable label, a park not counted, the
  // parked and held gauges not read from the table (or not falling once released).
  it('counts failures by retryable and parks, and shows parked and held messages until a skip releases them', async () => {
    const publisher = new RecordingPublisher({
      fail: (message, attempt) => {
        if (message.key === 'mor-bad' && (message.payload as { n: number }).n === 1) return refused(message);
        return message.key === 'mor-good' && attempt === 1 ? new Error('flaky') : undefined;
      },
    });
    const outbox = outboxOf('refusing', 'mor', publisher);
    await append('mor-bad', 3);
    await append('mor-good', 2);
    const service = await startService({ store, schema, outboxes: [outbox], metrics: fresh });
    start(store, outbox, { metrics: outboxRelayMetrics(service.app) });
    await eventually(async () => expect((await listParkedMessages(store, outbox)).map((row) => row.status)).toEqual(['parked', 'held', 'held']));
    await eventually(async () => expect(publisher.received.filter((m) => m.key === 'mor-good')).toHaveLength(2));

    const series = { outbox: 'refusing', destination: 'out' };
    const parked = await eventually(async () => {
      const scraped = await scrape(service.url);
      expect(valueOf(scraped, 'annals_outbox_pending_messages', series)).toBe(0);
      return scraped;
    });
    expect(valueOf(parked, 'annals_outbox_messages_published_total', series)).toBe(2);
    expect(valueOf(parked, 'annals_outbox_publish_failures_total', { ...series, retryable: 'true' })).toBe(2);
    expect(valueOf(parked, 'annals_outbox_publish_failures_total', { ...series, retryable: 'false' })).toBe(1);
    expect(valueOf(parked, 'annals_outbox_messages_parked_total', series)).toBe(1);
    expect(valueOf(parked, 'annals_outbox_parked_messages', series)).toBe(1);
    expect(valueOf(parked, 'annals_outbox_held_messages', series)).toBe(2);

    const [first] = await listParkedMessages(store, outbox);
    expect(await skipParkedMessage(store, outbox, first!.id)).toEqual({ published: 2 });
    const released = await scrape(service.url);
    expect(valueOf(released, 'annals_outbox_parked_messages', series)).toBe(0);
    expect(valueOf(released, 'annals_outbox_held_messages', series)).toBe(0);
    // Counted by the relay only: what a retry or skip publishes is not the relay's.
    expect(valueOf(released, 'annals_outbox_messages_parked_total', series)).toBe(1);
  });

  // Catches: a metrics hook whose fault stops the relay (or a batch) instead of being ignored.
  it('a hook that throws is ignored: the relay publishes on', async () => {
    const publisher = new RecordingPublisher();
    const outbox = outboxOf('throwing', 'mot', publisher);
    await append('mot-1', 3);
    start(store, outbox, {
      metrics: {
        published: () => {
          throw new Error('broken metrics');
        },
      },
    });
    await eventually(async () => expect(publisher.received).toHaveLength(3));
  });

  it('reads no outbox figures with storeFigures off, and the hook counts nothing with metrics off', async () => {
    const outbox = outboxOf('quiet', 'moq', new RecordingPublisher());
    const service = await startService({ store, schema, outboxes: [outbox], metrics: { ...fresh, storeFigures: false } });
    const scraped = await scrape(service.url);
    expect(samplesOf(scraped, 'annals_outbox_pending_messages')).toEqual([]);
    expect(valueOf(scraped, 'annals_outbox_messages_published_total', { outbox: 'quiet' })).toBe(0);

    const off = await startService({ store, schema, outboxes: [outbox], metrics: false });
    expect(outboxRelayMetrics(off.app)).toEqual({});
  });

  it('refuses outboxes that are not outboxes, or one named twice, naming the option', async () => {
    const outbox = outboxOf('twice', 'mow', new RecordingPublisher());
    await expect(createService({ store, schema, logger: 'silent', outboxes: [{ name: 'x' } as never] })).rejects.toMatchObject({
      constructor: ValidationError,
      field: 'options.outboxes[0]',
    });
    await expect(createService({ store, schema, logger: 'silent', outboxes: [outbox, outbox] })).rejects.toMatchObject({ field: 'options.outboxes' });
  });
});
