import { describe, expect, it } from 'vitest';
import { newEventId } from '../../src/event-store/event-ids.js';

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisecondsOf = (id: string) => Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('newEventId', () => {
  it('makes version 7 UUIDs (RFC 9562) carrying the time they were made', () => {
    const before = Date.now();
    const id = newEventId();
    const after = Date.now();
    expect(id).toMatch(uuidV7);
    expect(millisecondsOf(id)).toBeGreaterThanOrEqual(before);
    expect(millisecondsOf(id)).toBeLessThanOrEqual(after);
  });

  it('sorts ids of later milliseconds after earlier ones (as text; Postgres compares uuids byte by byte, the same order)', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      ids.push(newEventId());
      await sleep(2);
    }
    expect([...ids].sort()).toEqual(ids);
  });

  it('never repeats within one millisecond or across many', () => {
    const ids = Array.from({ length: 200_000 }, () => newEventId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => uuidV7.test(id))).toBe(true);
  });
});
