import pg from 'pg';
import { DatabaseUnreachableError, type DatabaseTarget, type UnreachableReason } from '../errors.js';

/**
 * A failed attempt to connect to Postgres as one line a person can act on. The driver
 * reports each case its own way (a socket error code, a server SQLSTATE, a bare message
 * for a timeout), and on its own it names neither the host nor the database it tried.
 */

/**
 * The failure to connect with `config` as DatabaseUnreachableError, the driver's error
 * as its cause. `timeoutMs` is the connect timeout in force, for the message.
 */
export function connectFailure(error: unknown, config: pg.ClientConfig, timeoutMs: number): DatabaseUnreachableError {
  const target = targetOf(config);
  const { reason, detail } = classify(error, target, timeoutMs);
  return new DatabaseUnreachableError(target, reason, detail, { cause: error });
}

/**
 * Where `config` connects, as pg resolves it (PGHOST, PGUSER and the like fill what the
 * config leaves out). A pg.Client is only built here, never connected.
 */
export function targetOf(config: pg.ClientConfig): DatabaseTarget {
  try {
    const client = new pg.Client(config);
    const user = client.user ?? 'unknown';
    return { host: client.host, port: client.port, database: client.database ?? user, user };
  } catch {
    // A connection string pg cannot parse fails the connect itself; say what is known.
    return { host: 'unknown', port: 5432, database: 'unknown', user: 'unknown' };
  }
}

const socketCode = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  // Node tries every address of a name (IPv6 and IPv4) and may report all of them at once.
  const [first] = (error as { errors?: unknown[] } | undefined)?.errors ?? [];
  return first === undefined ? undefined : socketCode(first);
};

function classify(error: unknown, target: DatabaseTarget, timeoutMs: number): { reason: UnreachableReason; detail: string } {
  const code = socketCode(error);
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return { reason: 'refused', detail: 'connection refused; is PostgreSQL running there, and listening on that port?' };
    case 'ENOTFOUND':
      return { reason: 'host-not-found', detail: `host name ${target.host} not found; check the host in the connection string` };
    case 'EAI_AGAIN':
      return { reason: 'host-not-found', detail: `host name ${target.host} could not be resolved (EAI_AGAIN: no answer from DNS); check the host and the network` };
    case 'ETIMEDOUT':
      return { reason: 'timeout', detail: 'the connection attempt timed out (ETIMEDOUT); check the host and port, and that no firewall drops the packets' };
    case '3D000':
      return { reason: 'database-missing', detail: `${message}; create it (createdb ${target.database}) or correct the database name` };
    case '28P01':
      return { reason: 'authentication-failed', detail: `${message}; check the password in the connection string` };
    case '28000':
      return /^role ".*" does not exist$/.test(message)
        ? { reason: 'role-missing', detail: `${message}; create it (createuser ${target.user}) or correct the user name` }
        : { reason: 'authentication-failed', detail: `${message} (28000)` };
  }
  // pg-pool's and pg.Client's own timeouts carry no code, only these messages.
  if (/connection timeout|timeout expired/i.test(message)) {
    const bound = timeoutMs > 0 ? `within ${timeoutMs} ms (connectionTimeoutMs)` : 'in time';
    return { reason: 'timeout', detail: `no answer ${bound}; check the host and port, and that no firewall drops the packets` };
  }
  // pg's SCRAM exchange when the server asks for a password and the config has none.
  if (/^SASL: .*password must be a string/.test(message)) {
    return { reason: 'authentication-failed', detail: 'the server asks for a password and the connection string gives none' };
  }
  return { reason: 'other', detail: code !== undefined && !message.includes(code) ? `${message} (${code})` : message };
}
