/**
 * Annals' own sealing and opening (src/privacy/personal-data.ts) with every key at hand,
 * without a database: what a sealed append or read costs in the process, beside the
 * AES-256-GCM alone of crypto-limit.ts (the difference is JSON, base64 and object copies).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../src/index.js';
import type { DataKey, KeyStore } from '../../src/privacy/key-store.js';
import { revealEvents, sealEvents, type PrivacyContext } from '../../src/privacy/personal-data.js';
import { now } from '../harness.js';
import { eventFor, settings, streamId, subjectOf } from './privacy-workload.js';

export interface InProcessFigures {
  /** Microseconds per event of `sealEvents`, in calls of 100 events of one subject. */
  sealUs: number;
  /** Microseconds per event of `revealEvents`, in pages of 1,000 (the JSON already parsed, as pg gives it). */
  revealUs: number;
}

export async function inProcess(events: number, subjects: number): Promise<InProcessFigures> {
  const bySubject = new Map<string, DataKey>();
  for (let s = 0; s < subjects; s++) bySubject.set(subjectOf(s), { keyId: randomUUID(), subject: subjectOf(s), key: randomBytes(32) });
  const byId = new Map([...bySubject.values()].map((key) => [key.keyId, key]));
  const keyStore: KeyStore = {
    keysFor: async (wanted) => new Map(wanted.map((subject) => [subject, bySubject.get(subject)!])),
    keysById: async (ids) => new Map(ids.map((id) => [id, byId.get(id)!])),
    forget: async () => 0,
    hasKey: async () => true,
  };
  const privacy: PrivacyContext = { keyStore, recorded: new Set() };
  const batches = Array.from({ length: Math.ceil(events / settings.batch) }, (_, b) =>
    Array.from({ length: settings.batch }, (_, i) => {
      const event = eventFor(b % subjects, i, 'sealed');
      return { id: randomUUID(), data: event.data as Record<string, unknown>, personal: event.personal!, stream: streamId(b % subjects) };
    }),
  );
  let started = now();
  const stored: string[][] = [];
  // The database handle is never used: the key store above needs none.
  for (const batch of batches) stored.push(await sealEvents(privacy, undefined as never, batch));
  const sealUs = ((now() - started) * 1000) / (batches.length * settings.batch);
  const recorded: RecordedEvent[] = batches.flatMap((batch, b) =>
    batch.map((event, i) => ({
      streamId: event.stream,
      version: i + 1,
      globalPosition: BigInt(b * settings.batch + i + 1),
      id: event.id,
      type: 'Deposited',
      schemaVersion: 1,
      data: JSON.parse(stored[b]![i]!) as unknown,
      metadata: {},
      recordedAt: new Date(),
    })),
  );
  started = now();
  let opened = 0;
  for (let first = 0; first < recorded.length; first += settings.page) {
    opened += (await revealEvents(privacy, undefined as never, recorded.slice(first, first + settings.page))).length;
  }
  const revealUs = ((now() - started) * 1000) / opened;
  return { sealUs, revealUs };
}
