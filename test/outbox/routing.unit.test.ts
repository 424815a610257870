import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RecordedEvent } from '../../src/index.js';
import { defineOutbox } from '../../src/outbox/define-outbox.js';
import { messageIdOf } from '../../src/outbox/message-id.js';
import { routeEvent } from '../../src/outbox/routing.js';
import { RecordingPublisher } from './support/recording-publisher.js';

const outbox = defineOutbox({
  name: 'routes',
  destinations: { likes: { publisher: new RecordingPublisher() }, audit: { publisher: new RecordingPublisher() } },
  routes: [
    { destination: 'likes', eventTypes: ['LikeCreated'], type: 'post.liked', schema: z.object({ user: z.string() }) },
    // The same destination again: its first matching route wins.
    { destination: 'likes', categories: ['post'], type: 'post.other', schema: z.object({ user: z.string() }) },
    { destination: 'audit', schema: z.unknown() },
  ],
});

function event(type: string, metadata: Record<string, unknown> = {}): RecordedEvent {
  return { id: '0b4c7a64-4b0e-4f7b-9a51-6a1f4f3f4f10', streamId: 'post-1', type, version: 3, globalPosition: 42n, data: { user: 'ada' }, metadata, recordedAt: new Date(0), schemaVersion: 1 } as RecordedEvent;
}

describe('routeEvent', () => {
  // Catches: two messages for one destination (two routes matching), a destination's
  // messages in the wrong route's shape, the category not the key's.
  it('gives each destination one message, from its first matching route', () => {
    const routed = routeEvent(outbox, event('LikeCreated'));
    expect(routed.map((r) => [r.destination, r.message?.type])).toEqual([
      ['likes', 'post.liked'],
      ['audit', 'LikeCreated'],
    ]);
    expect(routeEvent(outbox, event('LikeRemoved')).map((r) => [r.destination, r.message?.type])).toEqual([
      ['likes', 'post.other'],
      ['audit', 'LikeRemoved'],
    ]);
    expect(routed[0]).toMatchObject({ messageId: messageIdOf('likes', event('x').id), key: 'post-1', message: { category: 'post', position: '42', key: 'post-1' } });
  });

  // Catches: empty or non-string ids sent as headers, absent ids present as undefined keys.
  it('carries correlation and causation ids only when the event has them as strings', () => {
    const plain = routeEvent(outbox, event('LikeCreated'))[0]!.message!;
    expect(Object.keys(plain)).not.toContain('correlationId');
    expect(Object.keys(plain)).not.toContain('causationId');
    const traced = routeEvent(outbox, event('LikeCreated', { correlationId: 'c-1', causationId: '' }))[0]!.message!;
    expect(traced.correlationId).toBe('c-1');
    expect(Object.keys(traced)).not.toContain('causationId');
    expect(Object.keys(routeEvent(outbox, event('LikeCreated', { correlationId: 7 }))[0]!.message!)).not.toContain('correlationId');
  });
});
