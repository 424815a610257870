import { EventSchemaError, type RecordedEvent } from 'annals';
import { describe, expect, it } from 'vitest';
import { postLikes } from '../../domain/likes/likes.aggregate.js';

const stored = (event: Pick<RecordedEvent, 'type' | 'schemaVersion' | 'data'>): RecordedEvent => ({
  streamId: 'post-p1',
  version: 2,
  globalPosition: 7n,
  id: '0f6c2a57-1d5e-4c43-9a38-6b1f0b8f2d11',
  metadata: {},
  recordedAt: new Date(0),
  ...event,
});

const decodeError = (event: RecordedEvent) => {
  try {
    postLikes.eventCodec.decode(event);
  } catch (error) {
    return error as EventSchemaError;
  }
  throw new Error('decoded without an error');
};

// Issue 9: the message is all a projection's dead letter keeps of the error, and it did
// not say which field failed (zod's path and reason were only in `issues`).
describe('the message of an EventSchemaError', () => {
  it('names the event, then the field and the reason that did not fit', () => {
    const error = decodeError(stored({ type: 'LikeCreated', schemaVersion: 2, data: { postId: 'p1', userId: 42 } }));
    expect(error).toBeInstanceOf(EventSchemaError);
    expect(error.issues).toEqual([{ field: 'data.userId', reason: 'Invalid input: expected string, received number' }]);
    expect(error.message).toBe(
      "event 0f6c2a57-1d5e-4c43-9a38-6b1f0b8f2d11 (LikeCreated v2) at version 2 of stream 'post-p1' cannot be read: " +
        'data does not fit schema version 2: data.userId: Invalid input: expected string, received number',
    );
  });

  it('names the field of an old version that does not fit before upcasting', () => {
    const error = decodeError(stored({ type: 'LikeCreated', schemaVersion: 1, data: { post: 42, userId: 'ada' } }));
    expect(error.message).toMatch(/: data does not fit schema version 1: data\.post: Invalid input: expected string, received number$/);
  });

  it('lists three fields and counts the rest', () => {
    const event = { streamId: 's-1', version: 1, id: 'e', type: 'T', schemaVersion: 1 };
    const issues = ['a', 'b', 'c', 'd', 'e'].map((key) => ({ field: `data.${key}`, reason: 'required' }));
    expect(new EventSchemaError(event, 'data does not fit', issues).message).toMatch(
      /cannot be read: data does not fit: data\.a: required; data\.b: required; data\.c: required \(and 2 more\)$/,
    );
  });

  it('is unchanged when there are no field issues', () => {
    const error = decodeError(stored({ type: 'LikeCreated', schemaVersion: 3, data: {} }));
    expect(error.issues).toEqual([]);
    expect(error.message).toMatch(/cannot be read: schema version 3 is newer than this code knows \(2\)$/);
  });
});
