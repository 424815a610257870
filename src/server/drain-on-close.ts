import type { FastifyInstance } from 'fastify';

/**
 * What `close()` does beyond fastify's own (which stops accepting connections and answers
 * 503 to requests arriving on open ones): it lets the requests in flight finish, then
 * lets their connections go, within `shutdownTimeoutMs`.
 *
 * Without the `connection: close` below, a keep-alive connection whose request was in
 * flight when close() began stays open, idle, after its answer, and Node's server.close()
 * waits for it until the keep-alive timeout (72 s in fastify): the process looked hung on
 * SIGTERM and was killed. Past the timeout, every connection is cut: a request that
 * outlives it (a resolver that never returns) must not hold the shutdown for ever.
 */
export function registerDrainOnClose(app: FastifyInstance, shutdownTimeoutMs: number): void {
  let closing = false;
  let cutOff: NodeJS.Timeout | undefined;
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('preClose', (done) => {
    closing = true;
    cutOff = setTimeout(() => {
      app.log.warn({ shutdownTimeoutMs }, 'requests still in flight at the shutdown timeout: closing their connections');
      app.server.closeAllConnections();
    }, shutdownTimeoutMs);
    done();
  });
  // onClose hooks run after the server has closed (fastify's own runs first).
  app.addHook('onClose', (_instance, done) => {
    clearTimeout(cutOff);
    done();
  });
}
