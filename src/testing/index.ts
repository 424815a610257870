/**
 * Test helpers, imported from 'annals/testing' (not part of the main entry point).
 */
export { aggregateSpec } from './aggregate-spec.js';
