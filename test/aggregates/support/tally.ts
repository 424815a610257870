import { defineAggregate } from 'annals';
import { z } from 'zod';

/**
 * A counter whose one command appends `times` events at once, each numbering itself:
 * for tests about multi-event commands, snapshots crossed mid-batch, and events whose
 * data depends on the state.
 */
export const tally = defineAggregate({
  category: 'tally',
  initialState: () => ({ count: 0 }),
  events: { Counted: z.object({ n: z.number().int().positive() }) },
  commands: { Count: z.object({ times: z.number().int().min(1).max(1000) }) },
  evolve: (state, event) => ({ count: event.data.n }),
  decide: (command, state) => Array.from({ length: command.data.times }, (_, i) => ({ type: 'Counted' as const, data: { n: state.count + i + 1 } })),
});
