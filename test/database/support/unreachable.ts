import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { expect } from 'vitest';
import { DatabaseUnreachableError, type UnreachableReason } from '../../../src/index.js';
import { testDatabaseUrl } from '../../setup/database.js';

/**
 * Real ways to fail to connect, for the tests of DatabaseUnreachableError: a port nothing
 * listens on, a server that accepts and never answers, names the test Postgres does not
 * have. Every URL carries `password`, which no message may repeat.
 */

export const password = 'hunter2-not-for-messages';

/** The database and user of the test server's URL, which the messages name. */
export const testDatabase = decodeURIComponent(new URL(testDatabaseUrl).pathname.slice(1));
export const testUser = decodeURIComponent(new URL(testDatabaseUrl).username);

/** The test database's URL with `changes` applied (a user, a database, a host, a port) and the password. */
export function urlWith(changes: { user?: string; database?: string; host?: string; port?: number } = {}): string {
  const url = new URL(testDatabaseUrl);
  if (changes.user !== undefined) url.username = changes.user;
  if (changes.database !== undefined) url.pathname = `/${changes.database}`;
  if (changes.host !== undefined) url.hostname = changes.host;
  if (changes.port !== undefined) url.port = String(changes.port);
  url.password = password;
  return url.toString();
}

/** A name no role or database of the test server has. */
export const missingName = (kind: string) => `annals_no_${kind}_${randomBytes(4).toString('hex')}`;

/** A port on 127.0.0.1 that nothing listens on: taken from the system, then let go. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts connections and never says a word: a connect that times out. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What `attempt` rejects with, which must be DatabaseUnreachableError for `reason`: one line, no password. */
export async function unreachable(attempt: Promise<unknown>, reason: UnreachableReason): Promise<DatabaseUnreachableError> {
  const error = await attempt.then(
    () => expect.unreachable('connected'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DatabaseUnreachableError);
  const unreachableError = error as DatabaseUnreachableError;
  expect({ code: unreachableError.code, reason: unreachableError.reason }).toEqual({ code: 'ANNALS_DATABASE_UNREACHABLE', reason });
  expect(unreachableError.message).not.toContain('\n');
  expect(unreachableError.message).not.toContain(password);
  expect(JSON.stringify({ ...unreachableError })).not.toContain(password);
  expect(unreachableError.cause).toBeInstanceOf(Error);
  return unreachableError;
}
