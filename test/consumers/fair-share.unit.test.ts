import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fairShare } from '../../src/consumers/fair-share.js';

describe('fairShare', () => {
  it('splits units evenly: each worker claims its quarter, and one holding it already claims nothing', () => {
    expect(fairShare({ units: 8, workers: 4, held: 0 })).toEqual({ claim: 2, release: 0 });
    expect(fairShare({ units: 8, workers: 4, held: 2 })).toEqual({ claim: 0, release: 0 });
    expect(fairShare({ units: 8, workers: 1, held: 0 })).toEqual({ claim: 8, release: 0 });
  });

  it('rounds an uneven split up, so that every unit can have an owner', () => {
    // 8 over 3: shares of 3, 3 and 2 cover all 8; shares of 2 would leave 2 unowned.
    expect(fairShare({ units: 8, workers: 3, held: 1 })).toEqual({ claim: 2, release: 0 });
    expect(fairShare({ units: 5, workers: 2, held: 0 })).toEqual({ claim: 3, release: 0 });
  });

  it('gives each of more workers than units at most one unit', () => {
    expect(fairShare({ units: 2, workers: 5, held: 0 })).toEqual({ claim: 1, release: 0 });
    expect(fairShare({ units: 2, workers: 5, held: 1 })).toEqual({ claim: 0, release: 0 });
    expect(fairShare({ units: 2, workers: 5, held: 2 })).toEqual({ claim: 0, release: 1 });
  });

  it('has a worker above its share give back exactly the surplus, and claim nothing', () => {
    // A worker that had all 4 partitions alone, when a second one joins.
    expect(fairShare({ units: 4, workers: 2, held: 4 })).toEqual({ claim: 0, release: 2 });
    expect(fairShare({ units: 4, workers: 2, held: 3 })).toEqual({ claim: 0, release: 1 });
    expect(fairShare({ units: 9, workers: 4, held: 7 })).toEqual({ claim: 0, release: 4 });
  });

  it('claims nothing when there are no units, and gives back what it holds', () => {
    expect(fairShare({ units: 0, workers: 3, held: 0 })).toEqual({ claim: 0, release: 0 });
    expect(fairShare({ units: 0, workers: 1, held: 2 })).toEqual({ claim: 0, release: 2 });
  });

  it('counts workers = 0 as one worker (this one): it may take every unit', () => {
    expect(fairShare({ units: 4, workers: 0, held: 0 })).toEqual({ claim: 4, release: 0 });
    expect(fairShare({ units: 4, workers: 0, held: 1 })).toEqual({ claim: 3, release: 0 });
  });

  it('always ends at the share, never claims and releases at once, and the shares cover every unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1024 }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 1024 }), (units, workers, held) => {
        const { claim, release } = fairShare({ units, workers, held });
        const share = Math.ceil(units / Math.max(1, workers));
        expect(claim >= 0 && release >= 0).toBe(true);
        expect(claim === 0 || release === 0).toBe(true);
        expect(held + claim - release).toBe(share);
        expect(share * Math.max(1, workers)).toBeGreaterThanOrEqual(units);
      }),
    );
  });
});
