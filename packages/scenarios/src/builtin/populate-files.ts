import { type Kernel, type PopulateOptions, populateFile } from '@mmsim/kernel';
import type { AddressSpaceView } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';

/** One `populateFile` call of a scenario's set-up: the file, its indices and the options. */
export type PopulateStep = readonly [
  file: AddressSpaceView,
  indices: readonly number[],
  options?: PopulateOptions,
];

/**
 * A set-up that only populates page caches: `populateFile` for each step, in order. A
 * module-level generator, not a generator closure made per machine: on Node 20 the first
 * call of a generator closure gives it an initial map in the old generation, which keeps
 * the closure's context (the kernel, so the whole machine) alive through every
 * young-generation collection until a full one (see `initTask` in scenario.ts).
 */
export function* populateFiles(k: Kernel, steps: readonly PopulateStep[]): KernelGen {
  for (const [file, indices, options] of steps) yield* populateFile(k, file, indices, options);
}
