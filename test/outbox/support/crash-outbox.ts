// No vitest import here: the relay script (a child process) uses it too.
import { z } from 'zod';
import { defineOutbox } from '../../../src/outbox/define-outbox.js';
import type { Publisher } from '../../../src/outbox/message.js';

/** The outbox of the crash test: category `crash`, two partitions, small batches. */
export function crashOutbox(publisher: Publisher) {
  return defineOutbox({
    name: 'crash',
    partitions: 2,
    batchSize: 10,
    destinations: { received: { publisher } },
    routes: [{ destination: 'received', categories: ['crash'], schema: z.object({ n: z.number() }) }],
  });
}
