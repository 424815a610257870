/**
 * Test helpers, imported from 'annals/testing' (not part of the main entry point).
 */
export { aggregateSpec } from './aggregate-spec.js';
export { projectionSpec } from './projection-spec.js';
export type {
  ProjectionSpec,
  ProjectionSpecEvent,
  ProjectionSpecGiven,
  ProjectionSpecOptions,
  ProjectionSpecReader,
  ProjectionSpecThen,
  SpecEventPlacement,
  SpecStepOptions,
} from './projection-spec.js';
export { consumerSpec, type ConsumerSpecEvent, type ConsumerSpecOutcome } from './consumer-spec.js';
