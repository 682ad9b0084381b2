import type { Kernel } from '@mmsim/kernel';
import type { Invariant } from '@mmsim/runtime';
import { MmsimError } from '@mmsim/runtime';
import { framesConserved } from './frames.js';
import { noLockHeldAtEnd } from './locks-at-end.js';
import { noLostWrite } from './lost-write.js';
import { lruConsistent, nrIsolated } from './lru.js';
import { noMigrationEntryAtEnd } from './migration-entries.js';
import { memmapConsistent, rmapConsistent } from './model-checks.js';

/** The names of the kernel's invariants, in the order they are checked. */
export const KERNEL_INVARIANT_NAMES = [
  'nr-isolated',
  'no-lost-write',
  'lru-consistent',
  'rmap-consistent',
  'memmap-consistent',
  'frames-conserved',
  'no-lock-held-at-end',
  'no-migration-entry-at-end',
] as const;

export type KernelInvariantName = (typeof KERNEL_INVARIANT_NAMES)[number];

/** Default: the expensive invariants (those that walk all of memory) run every 16th step. */
export const DEFAULT_INVARIANT_STRIDE = 16;

export interface KernelInvariantOptions {
  /**
   * The invariants that walk all of memory (rmap, memmap, LRU, frames) run on every
   * `stride`-th step (and always at the end); the cheap ones after every step. Default 16;
   * 1 checks everything after every step.
   */
  readonly stride?: number;
  /** Only these invariants (default: all of `KERNEL_INVARIANT_NAMES`). */
  readonly only?: readonly KernelInvariantName[];
}

/**
 * The kernel's invariants over one machine, named (see `KERNEL_INVARIANT_NAMES`). They
 * have the explorer's `Invariant` shape.
 */
export function kernelInvariants(k: Kernel, options: KernelInvariantOptions = {}): Invariant[] {
  const stride = options.stride ?? DEFAULT_INVARIANT_STRIDE;
  if (!Number.isInteger(stride) || stride < 1) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `invariant stride must be a positive integer, got ${String(stride)}`,
    );
  }
  const only = options.only;
  const invariants: Invariant[] = [];
  if (only === undefined) {
    // All of them (as for every explored schedule of a scenario): nothing to look up.
    for (const name of KERNEL_INVARIANT_NAMES) invariants.push(kernelInvariant(k, name, stride));
    return invariants;
  }
  for (const name of only) {
    if (!KERNEL_INVARIANT_NAMES.includes(name)) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `${String(name)} is not a kernel invariant (known: ${KERNEL_INVARIANT_NAMES.join(', ')})`,
      );
    }
  }
  for (const name of KERNEL_INVARIANT_NAMES) {
    if (only.includes(name)) invariants.push(kernelInvariant(k, name, stride));
  }
  return invariants;
}

/**
 * One kernel invariant by name. A switch, not a record of closures built for every machine
 * (an explorer builds the invariants once per schedule).
 */
function kernelInvariant(k: Kernel, name: KernelInvariantName, stride: number): Invariant {
  switch (name) {
    case 'nr-isolated':
      return nrIsolated(k);
    case 'no-lost-write':
      return noLostWrite(k);
    case 'lru-consistent':
      return lruConsistent(k, stride);
    case 'rmap-consistent':
      return rmapConsistent(k, stride);
    case 'memmap-consistent':
      return memmapConsistent(k, stride);
    case 'frames-conserved':
      return framesConserved(k, stride);
    case 'no-lock-held-at-end':
      return noLockHeldAtEnd(k);
    case 'no-migration-entry-at-end':
      return noMigrationEntryAtEnd(k);
  }
}
