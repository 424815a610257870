// A service process as a deployment runs it: serves until SIGTERM or SIGINT, then drains
// the requests in flight, closes its store and exits by itself. Prints one JSON line per
// event on stdout (pino's, and its own `ready` line with the URL).
import { createEventStore } from '../../../src/index.js';
import { closeOnSignal } from '../../../src/server/close-on-signal.js';
import { createService } from '../../../src/server/create-service.js';
import { listenOptionsFromEnvironment } from '../../../src/server/listen-environment.js';

const store = createEventStore({ connectionString: process.env.DATABASE_URL! }, { schema: process.env.ANNALS_SCHEMA! });
const service = await createService({
  store,
  schema: 'type Query { wait(ms: Int!): String }',
  resolvers: {
    Query: {
      wait: async (_root: unknown, { ms }: { ms: number }) => {
        console.log(JSON.stringify({ msg: 'resolver started' }));
        await new Promise((resolve) => setTimeout(resolve, ms));
        return `waited ${ms} ms`;
      },
    },
  },
});
const shutdown = closeOnSignal(service, {
  afterClose: async () => {
    await store.close();
    console.log(JSON.stringify({ msg: 'store closed' }));
  },
});
const url = await service.listen(listenOptionsFromEnvironment());
console.log(JSON.stringify({ msg: 'ready', url }));
await shutdown.done;
