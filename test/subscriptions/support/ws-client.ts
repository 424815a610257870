/**
 * A real GraphQL-over-websocket client for the tests: graphql-ws (the graphql-transport-ws
 * protocol) on ws, against a listening service. Each subscription collects what it is
 * pushed; tests wait for an outcome (`waitFor`), never for a time.
 */
import { createClient, type Client } from 'graphql-ws';
import { onTestFinished } from 'vitest';
import WebSocket from 'ws';

/** An error as a subscription receives it: what the server sent in its `error` message. */
export interface PushedError {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface Pushes<T> {
  /** Every value pushed, in order. */
  readonly values: T[];
  /** The errors the subscription ended with (the server's `error` message), if any. */
  readonly errors: PushedError[];
  /** Whether it has ended: completed by the server, ended by an error, or by the socket closing. */
  readonly ended: boolean;
  /** The close event, when the socket closed under it. */
  readonly closed: { code: number; reason: string } | undefined;
  /** Resolves once `test(values)` holds; rejects if the subscription ends first, or after `timeoutMs` (a generous bound, not a measure). */
  waitFor(test: (values: readonly T[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves once the subscription has ended (rejects after `timeoutMs`). */
  waitForEnd(timeoutMs?: number): Promise<void>;
  /** Stops the subscription (sends `complete`). */
  stop(): void;
}

export interface WsClient {
  readonly client: Client;
  subscribe<T>(query: string, variables?: Record<string, unknown>): Pushes<T>;
  /** Closes the socket. */
  close(): Promise<void>;
}

/**
 * A client of the service at `url` (http://…), connecting at once, never retrying (a test
 * sees every close), closed when the test ends. `authorization` goes in the
 * `connection_init` payload.
 */
export function wsClient(url: string, options: { authorization?: string } = {}): WsClient {
  let lastClose: { code: number; reason: string } | undefined;
  const subscribers = new Set<() => void>();
  const client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: options.authorization === undefined ? {} : { authorization: options.authorization },
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        lastClose = { code, reason: String(reason) };
        for (const notify of subscribers) notify();
      },
    },
    onNonLazyError: () => {},
  });
  let disposed = false;
  const close = async () => {
    if (disposed) return;
    disposed = true;
    await client.dispose();
  };
  onTestFinished(close);
  return {
    client,
    close,
    subscribe<T>(query: string, variables: Record<string, unknown> = {}): Pushes<T> {
      const values: T[] = [];
      const errors: PushedError[] = [];
      let ended = false;
      let closed: { code: number; reason: string } | undefined;
      const listeners = new Set<() => void>();
      const changed = () => {
        for (const listener of [...listeners]) listener();
      };
      const end = () => {
        ended = true;
        changed();
      };
      const onClose = () => {
        closed ??= lastClose;
        end();
      };
      subscribers.add(onClose);
      const stop = client.subscribe<T>(
        { query, variables },
        {
          next: (result) => {
            if (result.errors) errors.push(...(result.errors as PushedError[]));
            if (result.data) values.push(result.data as T);
            changed();
          },
          error: (error) => {
            if (Array.isArray(error)) errors.push(...(error as PushedError[]));
            else if (error && typeof error === 'object' && 'code' in error) closed ??= { code: (error as { code: number }).code, reason: String((error as { reason?: unknown }).reason ?? '') };
            else errors.push({ message: String(error) });
            end();
          },
          complete: end,
        },
      );
      const until = (test: () => boolean, what: string, timeoutMs: number, failOnEnd: boolean) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (test()) return finish(resolve);
            if (failOnEnd && ended) {
              finish(() => reject(new Error(`the subscription ended before ${what}: ${JSON.stringify({ values, errors, closed })}`)));
            }
          };
          const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} within ${timeoutMs} ms: ${JSON.stringify({ values, errors, closed })}`))), timeoutMs);
          const finish = (settle: () => void) => {
            clearTimeout(timer);
            listeners.delete(check);
            settle();
          };
          listeners.add(check);
          check();
        });
      return {
        values,
        errors,
        get ended() {
          return ended;
        },
        get closed() {
          return closed;
        },
        waitFor: (test, what, timeoutMs = 20_000) => until(() => test(values), what, timeoutMs, true),
        waitForEnd: (timeoutMs = 20_000) => until(() => ended, 'the end of the subscription', timeoutMs, false),
        stop,
      };
    },
  };
}
