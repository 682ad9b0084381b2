/**
 * @mmsim/kernel: the composition root of mmsim. `createKernel(config)` wires runtime,
 * folio, page-lock, lru, rmap and migrate into one machine. What runs on it (actors,
 * invariants, scenarios, the built-in ones) is in `@mmsim/scenarios`.
 *
 * Contents:
 * - the machine: `createKernel`, `Kernel`, its configuration (validated; JSON Schema of
 *   the data half), replaceable parts and the lock classes of the dependency checker;
 * - the `Actor` shape `Kernel.spawn` takes;
 * - page-cache paths, set-up helpers and the shadow memory the actors use.
 */

export type { VariantName } from '@mmsim/migrate';
export * from './actor.js';
export * from './config.js';
export * from './config-schema.js';
export * from './kernel.js';
export * from './lock-classes.js';
export { MF_COUNT_INCREASED, MF_SOFT_OFFLINE } from './memory-failure.js';
export * from './page-cache.js';
export * from './parts.js';
export * from './setup.js';
export * from './shadow.js';
