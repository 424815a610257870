import { listenForStop } from '../cli/signals.js';

/** What closeOnSignal needs of a service: its close() and a logger. */
interface Closable {
  close(): Promise<void>;
  readonly log: { info(details: object, message: string): void };
}

export interface SignalShutdown {
  /**
   * Resolves with the signal once the service has closed and `afterClose` has run;
   * rejects with what either threw.
   */
  readonly done: Promise<NodeJS.Signals>;
  /** Stops listening for the signals (the service was closed another way). */
  dispose(): void;
}

/**
 * For the service's process: on the first SIGTERM or SIGINT, closes the service
 * (stop accepting, drain the requests in flight: `Service.close`), then runs `afterClose`,
 * where the owner of the store and the workers stops and closes them, in that order: a
 * request still in flight may need the store. A second signal exits at once (the CLI's
 * listenForStop, shared with `annals projections run`).
 *
 * Nothing here calls process.exit: once everything is closed nothing keeps the process
 * alive, and it exits 0 by itself. A process that does not has a handle left open, which
 * an exit would hide.
 *
 * @example
 * ```ts
 * const service = await createService({ store, schema, resolvers });
 * await service.listen(listenOptionsFromEnvironment());
 * const shutdown = closeOnSignal(service, { afterClose: () => store.close() });
 * await shutdown.done;
 * ```
 */
export function closeOnSignal(service: Closable, options: { afterClose?: () => Promise<void> } = {}): SignalShutdown {
  const stop = listenForStop((signal) => service.log.info({ signal }, 'stopping: draining the requests in flight'));
  const done = stop.received.then(async (signal) => {
    await service.close();
    await options.afterClose?.();
    service.log.info({ signal }, 'stopped');
    stop.dispose();
    return signal;
  });
  return { done, dispose: () => stop.dispose() };
}
