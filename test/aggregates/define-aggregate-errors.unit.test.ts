import { defineAggregate, ValidationError } from 'annals';
import { expect, it } from 'vitest';
import { z } from 'zod';

// Issue 11, item 7: a malformed definition was a bare TypeError with no stable code.
const valid = {
  category: 'counter',
  initialState: () => ({ count: 0 }),
  events: { Incremented: z.object({ by: z.number() }) },
  commands: { Increment: z.object({ by: z.number() }) },
  evolve: (state: { count: number }, event: { data: { by: number } }) => ({ count: state.count + event.data.by }),
  decide: (command: { data: { by: number } }) => ({ type: 'Incremented' as const, data: { by: command.data.by } }),
};

it.each([
  [{ category: 'bad-name' }, 'aggregate.category'],
  [{ snapshots: { every: 0, version: 1 } }, 'aggregate.snapshots.every'],
  [{ snapshots: { every: 10, version: 1.5 } }, 'aggregate.snapshots.version'],
  [{ cache: { maxStreams: 0 } }, 'aggregate.cache.maxStreams'],
])('refuses %o with a ValidationError on %s', (override, field) => {
  try {
    defineAggregate({ ...valid, ...override } as never);
    expect.unreachable();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  }
});
