// biome-ignore-all assist/source/organizeImports: this file is a table of contents, kept in reading order by section
/**
 * @mmsim/runtime/internal: may change in any release. Helpers the mmsim packages share and
 * the runtime's own working parts, for tests and tools; users of the model need only
 * `@mmsim/runtime`.
 */

// Checks and defaults the packages share.
export { checkInt } from './errors.js';
export { resolveCosts } from './costs.js';

// The runtime's working parts: the deadlock finder, the decision log, the seeded streams.
export { findDeadlock } from './deadlock.js';
export { DecisionLog } from './replay-token.js';
export { createRandomStreams } from './random.js';

// Formatting a tracepoint's fields when it has no format of its own.
export { formatFieldsGeneric } from './tracepoint.js';
