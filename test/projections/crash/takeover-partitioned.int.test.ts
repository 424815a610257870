import type { EventStore } from 'annals';
import { afterEach, describe, it } from 'vitest';
import { createTestStore, testDatabaseUrl } from '../../setup/database.js';
import { takeoverScenario } from '../support/takeover-scenario.js';
import { killAllWorkers } from '../support/running-worker.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('proj_takeover4');
afterEach(() => killAllWorkers());

describe('several worker processes on a projection of four partitions', () => {
  // Catches: two processes owning one partition at once (a claim that ignores a live
  // lease, a renewal that revives a lease another worker took): events applied twice,
  // `times` = 2; an event skipped on a hand-over (a checkpoint moved past what was
  // applied): a missing id; a dead owner's partitions never taken over, or taken over
  // later than the lease allows (not in the first membership round of a survivor after
  // the lease ran out); a lease stolen before it ran out (the claim seen before the dead
  // owner's lease_expires_at).
  it.each([
    { processes: 2, partitions: 4 },
    { processes: 4, partitions: 4 },
  ])(
    '$processes processes: each event applied exactly once while a writer appends; a SIGKILLed owner is taken over within the lease',
    (setup) => takeoverScenario(store, testDatabaseUrl, setup),
    // Only a guard against a hang: the scenario waits on what the database shows.
    240_000,
  );
});
