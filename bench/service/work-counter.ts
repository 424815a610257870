/**
 * What a server process has done, counted in the server so that a window's figures have
 * no requests in flight on one side only: the requests its HTTP server received, the
 * statements its pool's connections sent (BEGIN and COMMIT included, counted where pg
 * hands them to the connection, as test/graphql/support/likes-service.ts does), the CPU
 * time of the process, and the CPU time of its pool's Postgres backends.
 *
 * CPU time per request is what a figure on a shared 2-core machine can say most steadily:
 * requests per second move with whatever else runs, the work each request costs much less.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import pg from 'pg';

export interface WorkCounts {
  requests: number;
  statements: number;
  /** User and system CPU time of the server process, in ms. */
  cpuMs: number;
  /**
   * User and system CPU time of the pool's Postgres backends, in ms (10 ms ticks), read
   * from /proc: undefined when Postgres runs elsewhere (or in another PID namespace).
   */
  postgresCpuMs: number | undefined;
}

/** Clock ticks per second of /proc/<pid>/stat's times: 100 on Linux, whatever the kernel's HZ. */
const ticksPerSecond = 100;

/** utime + stime of process `pid`, in ms; undefined when /proc does not have it. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces), from the closing parenthesis on:
    // state is field 3, utime 14 and stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

export class WorkCounter {
  #requests = 0;
  #statements = 0;
  readonly #backends = new Set<number>();

  countRequests(server: Server): void {
    server.on('request', () => (this.#requests += 1));
  }

  /** Counts the pool's statements and remembers its backends' process ids. */
  attach(pool: pg.Pool): void {
    pool.on('connect', (client) => {
      const backend = (client as unknown as { processID: number | null }).processID;
      if (backend !== null) this.#backends.add(backend);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        this.#statements += 1;
        return query(...args);
      };
    });
  }

  counts(): WorkCounts {
    const { user, system } = process.cpuUsage();
    let postgresCpuMs: number | undefined = 0;
    for (const backend of this.#backends) {
      const ms = processCpuMs(backend);
      // A backend that is gone took its time with it: the pool keeps its connections
      // (countedPool), so that only happens when one failed.
      if (ms === undefined) {
        postgresCpuMs = undefined;
        break;
      }
      postgresCpuMs += ms;
    }
    return { requests: this.#requests, statements: this.#statements, cpuMs: (user + system) / 1000, postgresCpuMs };
  }
}

/**
 * A pg pool of `size` whose work `counter` counts. Idle connections are kept (pg closes
 * them after 10 s by default) so that a backend's CPU time stays readable between windows.
 */
export function countedPool(databaseUrl: string, size: number, counter: WorkCounter): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: size, connectionTimeoutMillis: 30_000, idleTimeoutMillis: 0 });
  counter.attach(pool);
  return pool;
}
