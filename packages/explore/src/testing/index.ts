/**
 * @mmsim/explore/test: helpers for testing explorers and targets (your own strategy, your
 * own target), shared by mmsim's own tests.
 */

export { checkPreemptionBound, type PreemptionBoundCheck } from './preemption-bound.js';
export { preemptionCounts } from './preemption-counts.js';
export { checkShrinking, type ShrinkingCheck } from './shrink-properties.js';
export { spinAndAbba } from './spin-and-abba.js';
