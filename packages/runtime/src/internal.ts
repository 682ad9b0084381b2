// biome-ignore-all assist/source/organizeImports: this file is a table of contents, kept in reading order by section
/**
 * @mmsim/runtime/internal: may change in any release. The runtime's own working parts, for
 * tests and tools; users of the model (and the other mmsim packages) need only
 * `@mmsim/runtime`.
 */

// The runtime's working parts: the deadlock finder, the decision log, the seeded streams.
export { findDeadlock } from './deadlock.js';
export { DecisionLog, type DecisionPairs } from './replay-token.js';
export { createRandomStreams } from './random.js';
