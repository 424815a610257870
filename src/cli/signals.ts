/**
 * SIGINT and SIGTERM for the long-running commands: the first one asks the command to
 * stop cleanly (finish or roll back the batch in flight, release leases); a second one,
 * for an operator who will not wait, exits at once, leaving leases to expire.
 */
export interface StopSignal {
  /** Resolves with the first signal received. */
  readonly received: Promise<NodeJS.Signals>;
  /** Removes the handlers (the command is done). */
  dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM until `dispose()`.
 *
 * @example
 * ```ts
 * const stop = listenForStop(() => process.stderr.write('stopping…\n'));
 * await stop.received;
 * ```
 */
export function listenForStop(onFirst: (signal: NodeJS.Signals) => void = () => {}): StopSignal {
  let resolveReceived: (signal: NodeJS.Signals) => void = () => {};
  const received = new Promise<NodeJS.Signals>((resolve) => (resolveReceived = resolve));
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      onFirst(signal);
      resolveReceived(signal);
      return;
    }
    process.stderr.write(`annals: ${signal} again: exiting without waiting; leases held expire on their own\n`);
    process.exit(1);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    received,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
