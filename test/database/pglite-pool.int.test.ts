import { afterEach, describe, expect, it } from 'vitest';
import { openPGlitePool, type PGlitePool } from '../../src/database/pglite-pool.js';
import { eventually } from '../setup/eventually.js';

// Issue 10, part 8c: PGlite is one connection, which PGlitePool lends to one caller at a
// time. LISTEN went straight to PGlite, so it could run inside another caller's open
// transaction and be undone by its rollback: the worker then silently fell back to polling.

let pool: PGlitePool;
afterEach(() => pool?.end());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function notify(channel: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`NOTIFY ${channel}`, []);
  } finally {
    client.release();
  }
}

describe('PGlitePool.listen', () => {
  it('waits for an open transaction instead of joining it, so a rollback cannot undo the LISTEN', async () => {
    pool = await openPGlitePool('memory://');
    const order: string[] = [];
    let heard = 0;
    const client = await pool.connect();
    let listening: Promise<() => Promise<void>>;
    try {
      await client.query('BEGIN', []);
      listening = pool.listen('annals_pool_test', () => heard++);
      void listening.then(() => order.push('listening'));
      await sleep(100); // time for a LISTEN that does not wait to run inside the transaction
      await client.query('ROLLBACK', []);
      order.push('rolled back');
    } finally {
      client.release();
    }
    const stop = await listening;

    await notify('annals_pool_test');
    await eventually(async () => expect(heard).toBe(1), 2000);
    expect(order).toEqual(['rolled back', 'listening']);
    await stop();
  });

  it('stops listening in its turn too', async () => {
    pool = await openPGlitePool('memory://');
    const order: string[] = [];
    const stop = await pool.listen('annals_pool_test', () => {});
    const client = await pool.connect();
    let stopping: Promise<unknown>;
    try {
      await client.query('BEGIN', []);
      stopping = stop().then(() => order.push('stopped'));
      await sleep(100);
      await client.query('ROLLBACK', []);
      order.push('rolled back');
    } finally {
      client.release();
    }
    await stopping;
    expect(order).toEqual(['rolled back', 'stopped']);
  });

  it('end() is idempotent and a stop after it is a no-op', async () => {
    pool = await openPGlitePool('memory://');
    const stop = await pool.listen('annals_pool_test', () => {});
    await Promise.all([pool.end(), pool.end()]);
    await stop();
  });
});
