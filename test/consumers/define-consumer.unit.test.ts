import { describe, expect, it } from 'vitest';
import { defineConsumer, ValidationError, type ConsumerDefinition } from '../../src/index.js';

const handle = async () => {};

/** The fields named by the ValidationError that defining `definition` throws, each once, sorted. */
function refusedFields(definition: unknown): string[] {
  try {
    defineConsumer(definition as ConsumerDefinition);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    // An empty name breaks two rules of one field: one issue each.
    return [...new Set((error as ValidationError).issues.map((issue) => issue.field))].sort();
  }
  throw new Error(`accepted ${JSON.stringify(definition)}`);
}

describe('defineConsumer', () => {
  it('applies the documented defaults', () => {
    const consumer = defineConsumer({ name: 'welcome-mails', handle });
    expect(consumer).toMatchObject({ name: 'welcome-mails', version: 1, partitions: 1, batchSize: 100, mode: 'transaction', appends: false, startAt: 'beginning' });
    expect(consumer.eventTypes).toBeUndefined();
    expect(consumer.categories).toBeUndefined();
  });

  it('refuses a bad name, naming consumer.name', () => {
    for (const name of ['', 'has space', 'semi;colon', 'x'.repeat(201), 42, undefined]) {
      expect(refusedFields({ name, handle }), JSON.stringify(name)).toEqual(['consumer.name']);
    }
    // What the name may hold: letters, digits and _ . : -
    expect(defineConsumer({ name: 'orders.v2:pm_1-a', handle }).name).toBe('orders.v2:pm_1-a');
  });

  it('refuses partitions that are not a whole number from 1 to 1024, naming consumer.partitions', () => {
    for (const partitions of [0, -1, 1.5, 1025, '4']) {
      expect(refusedFields({ name: 'c', partitions, handle }), JSON.stringify(partitions)).toEqual(['consumer.partitions']);
    }
    expect(defineConsumer({ name: 'c', partitions: 1024, handle }).partitions).toBe(1024);
  });

  it('refuses a missing or non-function handle, naming consumer.handle', () => {
    expect(refusedFields({ name: 'c' })).toEqual(['consumer.handle']);
    expect(refusedFields({ name: 'c', handle: 'not a function' })).toEqual(['consumer.handle']);
  });

  it('names each bad field, all of them at once', () => {
    expect(refusedFields({ name: 'c', mode: 'exactly-once', handle })).toEqual(['consumer.mode']);
    expect(refusedFields({ name: 'c', batchSize: 0, handle })).toEqual(['consumer.batchSize']);
    expect(refusedFields({ name: 'c', startAt: 'end', handle })).toEqual(['consumer.startAt']);
    expect(refusedFields({ name: 'c', eventTypes: [], handle })).toEqual(['consumer.eventTypes']);
    expect(refusedFields({ name: 'c', partitionKey: 'streamId', handle })).toEqual(['consumer.partitionKey']);
    expect(refusedFields({ name: '', partitions: 0 })).toEqual(['consumer.handle', 'consumer.name', 'consumer.partitions']);
  });
});
