/**
 * The practical limit of sealed fields, in parts: AES-256-GCM with node:crypto alone, in
 * the format Annals stores (`iv (12) | ciphertext | tag (16)`, associated data binding
 * the event id and subject), written here by hand rather than imported, and the round
 * trip of one key lookup with raw pg.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { now, quoteIdent } from '../harness.js';
import { ownerOf, subjectOf } from './privacy-workload.js';

export function gcmSeal(key: Buffer, plaintext: Buffer, associated: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associated, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function gcmOpen(key: Buffer, sealed: Buffer, associated: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(associated, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

export interface CryptoFigures {
  /** Microseconds per event: sealing its personal field (`{"owner":"..."}`, 42 bytes). */
  sealUs: number;
  /** Microseconds per event: opening it again. */
  openUs: number;
  /** Microseconds per call of randomBytes(12), the fresh IV each seal draws. */
  ivUs: number;
}

/** `events` seals, then `events` opens, in a loop, over 1,000 subjects' keys: µs per event each. */
export function cryptoLoop(events: number, subjects: number): CryptoFigures {
  const keys = Array.from({ length: subjects }, () => randomBytes(32));
  const plaintexts = Array.from({ length: subjects }, (_, s) => Buffer.from(JSON.stringify({ owner: ownerOf(s) }), 'utf8'));
  const associated = Array.from({ length: events }, (_, i) => `${randomUUID()}\u0000${subjectOf(i % subjects)}`);
  const sealed: Buffer[] = new Array<Buffer>(events);
  let started = now();
  for (let i = 0; i < events; i++) sealed[i] = gcmSeal(keys[i % subjects]!, plaintexts[i % subjects]!, associated[i]!);
  const sealUs = ((now() - started) * 1000) / events;
  started = now();
  let bytes = 0;
  for (let i = 0; i < events; i++) bytes += gcmOpen(keys[i % subjects]!, sealed[i]!, associated[i]!).length;
  const openUs = ((now() - started) * 1000) / events;
  if (bytes === 0) throw new Error('nothing opened');
  started = now();
  for (let i = 0; i < events; i++) bytes += randomBytes(12).length;
  const ivUs = ((now() - started) * 1000) / events;
  return { sealUs, openUs, ivUs };
}

export interface KeyRoundTrips {
  /** Milliseconds per lookup of one subject's key, one caller (what an append of a batch asks for). */
  bySubjectMs: number;
  /**
   * Microseconds per lookup of one subject's key from the throughput of `callers` callers
   * (what each single-event append at that concurrency asks for): on a busy server the
   * statement costs server time rather than waiting.
   */
  bySubjectConcurrentUs: number;
  /** Milliseconds per lookup of one key by id, one caller (what a stream read asks for). */
  byIdMs: number;
}

/**
 * `count` single-key lookups of each kind as prepared statements: one after another on
 * one connection, and by subject from `callers` callers at once: the round trip a sealed
 * append or stream read adds.
 */
export async function keyRoundTrips(pool: pg.Pool, keySchema: string, options: { count: number; subjects: number; callers: number }): Promise<KeyRoundTrips> {
  const { count, subjects, callers } = options;
  const table = `${quoteIdent(keySchema)}."data_keys"`;
  const bySubject = (client: pg.Pool | pg.PoolClient, i: number) =>
    client.query({ name: 'bench_key_by_subject', text: `SELECT key_id, subject, wrapped, master_key FROM ${table} WHERE subject = ANY($1::text[])`, values: [[subjectOf(i % subjects)]] });
  const client = await pool.connect();
  try {
    const ids = (await client.query<{ key_id: string }>(`SELECT key_id FROM ${table} LIMIT $1`, [subjects])).rows.map((row) => row.key_id);
    let started = now();
    for (let i = 0; i < count; i++) await bySubject(client, i);
    const bySubjectMs = (now() - started) / count;
    started = now();
    for (let i = 0; i < count; i++) {
      await client.query({ name: 'bench_key_by_id', text: `SELECT key_id, subject, wrapped, master_key FROM ${table} WHERE key_id = ANY($1::uuid[])`, values: [[ids[i % ids.length]!]] });
    }
    const byIdMs = (now() - started) / count;
    const concurrently = (total: number) =>
      Promise.all(
        Array.from({ length: callers }, async (_, caller) => {
          for (let i = caller; i < total; i += callers) await bySubject(pool, i);
        }),
      );
    // Unmeasured: the pool's connections opened and the statement prepared on each.
    await concurrently(callers * 4);
    started = now();
    await concurrently(count);
    const bySubjectConcurrentUs = ((now() - started) * 1000) / count;
    return { bySubjectMs, bySubjectConcurrentUs, byIdMs };
  } finally {
    client.release();
  }
}
