import pg from 'pg';
import { StoreClosedError } from '../errors.js';
import { connectFailure } from './connect-failure.js';
import type { Connection } from './connection.js';
import { quoteIdent } from './quote-ident.js';

/** LISTEN/NOTIFY for `subscribeToAppends`: connections of their own, ended with the store. */

type Listen = Connection['listen'];

/**
 * The LISTEN connections of one store, so that close() ends them too: they live outside
 * the pool, and 20 create / subscribe / close cycles once left 20 of them open, their
 * callbacks still called for closed stores and the process kept alive for good. From
 * the moment close() is called no callback runs, and a listen still connecting then is
 * ended once it is up (its caller gets StoreClosedError) before close() resolves.
 */
export function trackListeners(listen: Listen): { listen: Listen; close(): Promise<void> } {
  const open = new Set<() => Promise<void>>();
  const opening = new Set<Promise<unknown>>();
  let closed = false;

  async function start(...[channel, onNotify, onLost]: Parameters<Listen>): Promise<() => Promise<void>> {
    let active = true;
    const unlisten = await listen(
      channel,
      () => {
        if (active && !closed) onNotify();
      },
      (error) => {
        if (!active || closed) return;
        active = false;
        open.delete(stop);
        onLost(error);
      },
    );
    const stop = async () => {
      active = false;
      open.delete(stop);
      await unlisten();
    };
    if (closed) {
      await stop();
      throw new StoreClosedError();
    }
    open.add(stop);
    return stop;
  }

  return {
    async listen(...args) {
      if (closed) throw new StoreClosedError();
      const starting = start(...args);
      opening.add(starting);
      try {
        return await starting;
      } finally {
        opening.delete(starting);
      }
    },
    async close() {
      closed = true;
      await Promise.allSettled([...opening, ...[...open].map((stop) => stop())]);
    },
  };
}

/**
 * LISTEN on a dedicated client: a pooled one would be handed to other queries.
 *
 * @throws DatabaseUnreachableError when the client cannot connect.
 */
export async function listenOn(
  config: pg.ClientConfig,
  channel: string,
  onNotify: () => void,
  onLost: (error: unknown) => void,
): Promise<() => Promise<void>> {
  const client = new pg.Client(config);
  let listening = false;
  let stopped = false;
  const lost = (error: unknown) => {
    // A failure while connecting rejects the listen itself.
    if (stopped || !listening) return;
    stopped = true;
    onLost(error);
  };
  client.on('error', lost);
  client.on('end', () => lost(new Error('the LISTEN connection ended')));
  client.on('notification', (message) => {
    if (message.channel === channel && !stopped) onNotify();
  });
  const stop = async () => {
    stopped = true;
    await client.end().catch(() => {});
  };
  try {
    await client.connect();
  } catch (error) {
    await stop();
    throw connectFailure(error, config, config.connectionTimeoutMillis ?? 0);
  }
  try {
    await client.query(`LISTEN ${quoteIdent(channel)}`);
  } catch (error) {
    await stop();
    throw error;
  }
  listening = true;
  return stop;
}
