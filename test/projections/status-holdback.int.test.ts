import { randomUUID } from 'node:crypto';
import { projectionStatus, type EventStore, type EventStoreTransaction } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore, eventually } from '../setup/database.js';
import { likeCountsProjection } from './support/like-counts.js';

const store: EventStore = await createTestStore('status_holdback');
const projection = likeCountsProjection();

const like = (postId: string) => ({ type: 'LikeCreated', data: { postId, userId: 'u1' } });

/**
 * Opens a transaction of the store named 'slow-importer' that appends one event and stays
 * open until `commit()`; resolves once it has appended, with its session's pid.
 */
async function openAppender(): Promise<{ pid: number; commit: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let opened!: (pid: number) => void;
  const hasAppended = new Promise<number>((resolve) => (opened = resolve));
  const transaction = store.withTransaction(async (tx: EventStoreTransaction) => {
    await tx.query(`SET LOCAL application_name = 'slow-importer'`);
    const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await tx.appendToStream(`post-${randomUUID().slice(0, 8)}`, [like('p1')]);
    opened(row!.pid);
    await released;
  });
  // A failure before the append would otherwise leave the caller waiting forever.
  const pid = await Promise.race([hasAppended, transaction.then(() => Promise.reject(new Error('ended before appending')))]);
  return {
    pid,
    commit: async () => {
      release();
      await transaction;
    },
  };
}

describe('projectionStatus, while a transaction of this store holds the log back', () => {
  it('names the session, its age and since when once it has been open for a second, and no one after it commits', async () => {
    const before = Date.now();
    const slow = await openAppender();
    try {
      // Polled rather than slept: under load, a second of the test's clock is not a second of the transaction's.
      const { logHeldBackBy } = await eventually(async () => {
        const status = await projectionStatus(store, [projection]);
        expect(status.logHeldBackBy).not.toBeNull();
        return status;
      }, 30_000);
      expect(logHeldBackBy).toMatchObject({ pid: slow.pid, applicationName: 'slow-importer', state: 'idle in transaction' });
      expect(logHeldBackBy!.ageMs).toBeGreaterThanOrEqual(1_000);
      expect(logHeldBackBy!.query).not.toBe('');
      expect(logHeldBackBy!.transactionStartedAt).toBeInstanceOf(Date);
      // Since when: after the test opened it, and a second or more ago. The server's clock
      // is this machine's; the slack covers rounding between the two.
      const since = logHeldBackBy!.transactionStartedAt.getTime();
      expect(since).toBeGreaterThanOrEqual(before - 100);
      expect(Date.now() - since).toBeGreaterThanOrEqual(900);
    } finally {
      await slow.commit();
    }
    expect((await projectionStatus(store, [projection])).logHeldBackBy).toBeNull();
  });

  it('does not report a transaction open for less than a second', async () => {
    // Under load one attempt can take longer than a second, which proves nothing; the
    // attempts that finish within one show a transaction that young is never reported.
    let conclusive = 0;
    for (let attempt = 0; attempt < 20 && conclusive < 3; attempt++) {
      const started = Date.now();
      const fast = await openAppender();
      try {
        const holdback = await store.logHoldback();
        const status = await projectionStatus(store, [projection]);
        // The transaction began after `started` and was asked about before now: its age
        // at the time was less than this.
        if (Date.now() - started >= 1_000) continue;
        conclusive++;
        expect(holdback?.pid).toBe(fast.pid); // it does hold the log back...
        expect(status.logHeldBackBy).toBeNull(); // ...but too briefly to be named
      } finally {
        await fast.commit();
      }
    }
    expect(conclusive).toBeGreaterThan(0);
  });
});
