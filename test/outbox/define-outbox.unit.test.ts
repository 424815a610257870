import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../src/index.js';
import { defineOutbox, outboxMessageType } from '../../src/outbox/define-outbox.js';
import { messageIdOf } from '../../src/outbox/message-id.js';
import { outboxMessage } from '../../src/outbox/write-message.js';
import { RecordingPublisher } from './support/recording-publisher.js';

const publisher = new RecordingPublisher();
const schema = z.object({});

function fieldOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    if (error instanceof ValidationError) return error.field;
    throw error;
  }
  return undefined;
}

describe('defineOutbox', () => {
  // Catches: a route to a destination that does not exist (its messages would go nowhere),
  // a route claiming the written messages' category, a bad name taken as a consumer name.
  it('refuses what cannot work, naming the field', () => {
    const destinations = { out: { publisher } };
    expect(fieldOf(() => defineOutbox({ name: 'x', destinations, routes: [{ destination: 'nowhere', schema }] }))).toBe('outbox.routes[0].destination');
    expect(fieldOf(() => defineOutbox({ name: 'x', destinations, routes: [{ destination: 'out', categories: ['outbox'], schema }] }))).toBe('outbox.routes[0].categories');
    expect(fieldOf(() => defineOutbox({ name: 'a b', destinations, routes: [] }))).toBe('outbox.name');
    expect(fieldOf(() => defineOutbox({ name: 'x', destinations: { out: { publisher: {} as never } }, routes: [] }))).toBe('outbox.destinations.out.publisher');
    expect(fieldOf(() => defineOutbox({ name: 'x', destinations, routes: [{ destination: 'out', schema: {} as never }] }))).toBe('outbox.routes[0].schema');
  });

  // Catches: a filter that leaves out the written messages, or filters when a route reads every type.
  it('reads only what its routes and the written messages need', () => {
    const destinations = { out: { publisher } };
    const typed = defineOutbox({ name: 'x', destinations, routes: [{ destination: 'out', eventTypes: ['A'], categories: ['post'], schema }] });
    expect(typed.filter).toEqual({ eventTypes: ['A', outboxMessageType], categories: ['post', 'outbox'] });
    const open = defineOutbox({ name: 'x', destinations, routes: [{ destination: 'out', eventTypes: ['A'], schema }, { destination: 'out', categories: ['post'], schema }] });
    expect(open.filter).toEqual({ eventTypes: undefined, categories: undefined });
  });
});

describe('message ids and written messages', () => {
  // Catches: ids that are not UUIDs v5, or change between calls, or collide across destinations.
  it('derives a stable UUID v5 per destination and event', () => {
    const eventId = '6f1c1c0e-4b1d-4a6a-9d7e-2b8f1a0c3d5e';
    expect(messageIdOf('likes', eventId)).toBe(messageIdOf('likes', eventId));
    expect(messageIdOf('likes', eventId)).not.toBe(messageIdOf('audit', eventId));
    expect(messageIdOf('likes', eventId)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  // Catches: ids that change between versions of Annals (brokers and inboxes would take a
  // message again as new). The values are Python's uuid.uuid5 of the same namespace and name.
  it('gives the same ids as any UUID v5 implementation, version after version', () => {
    const eventId = '0b4c5d6e-1f20-4a3b-9c8d-7e6f5a4b3c2d';
    expect(messageIdOf('likes', eventId)).toBe('af406b76-6948-529d-8df8-b5d3fc99c48f');
    expect(messageIdOf('audit.é', eventId)).toBe('01d7fdf2-0b1a-5253-832b-e5c795d80366');
    // Past the buffer kept for short names, and a short one again after it.
    expect(messageIdOf('d'.repeat(1100), eventId)).toBe('2b7d27dc-6625-5530-a416-8a5e93d2e146');
    expect(messageIdOf('likes', eventId)).toBe('af406b76-6948-529d-8df8-b5d3fc99c48f');
  });

  it('writes a message to outbox-<destination>-<key>, and refuses a bad one naming the field', () => {
    const { streamId, event } = outboxMessage({ destination: 'billing', key: 'order-42', type: 'billing.charge', payload: { cents: 5 }, causationId: 'e-1' });
    expect(streamId).toBe('outbox-billing-order-42');
    expect(event).toEqual({ type: outboxMessageType, data: { destination: 'billing', key: 'order-42', type: 'billing.charge', schemaVersion: 1, payload: { cents: 5 } }, metadata: { causationId: 'e-1' } });
    expect(fieldOf(() => outboxMessage({ destination: 'a-b', key: 'k', type: 't', payload: 1 }))).toBe('message.destination');
    expect(fieldOf(() => outboxMessage({ destination: 'a', key: '', type: 't', payload: 1 }))).toBe('message.key');
    expect(fieldOf(() => outboxMessage({ destination: 'a', key: 'k', type: 't', payload: undefined }))).toBe('message.payload');
  });
});
