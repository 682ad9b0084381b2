/**
 * @mmsim/runtime: the deterministic kernel runtime every other mmsim package runs on.
 */
export * from './costs.js';
export * from './deadlock.js';
export * from './errno.js';
export * from './errors.js';
export * from './fault-points.js';
export * from './function-tracer.js';
export * from './invariant.js';
export * from './locks/completion.js';
export * from './locks/mutex.js';
export * from './locks/owned-lock.js';
export * from './locks/rwsem.js';
export * from './locks/spinlock.js';
export * from './might-sleep.js';
export * from './random.js';
export * from './replay-token.js';
export type { Resource } from './resource.js';
export * from './runtime.js';
export * from './strategies/create.js';
export * from './strategies/depth-first.js';
export * from './strategies/exhaustive.js';
export * from './strategies/in-order.js';
export * from './strategies/lowest-clock.js';
export * from './strategies/pct.js';
export * from './strategies/random.js';
export * from './strategies/replay.js';
export type { Strategy } from './strategies/strategy.js';
export * from './task.js';
export * from './tracepoint.js';
export * from './vmstat.js';
export * from './wait-queue.js';
