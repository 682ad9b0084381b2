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
  const all: Record<KernelInvariantName, () => Invariant> = {
    'nr-isolated': () => nrIsolated(k),
    'no-lost-write': () => noLostWrite(k),
    'lru-consistent': () => lruConsistent(k, stride),
    'rmap-consistent': () => rmapConsistent(k, stride),
    'memmap-consistent': () => memmapConsistent(k, stride),
    'frames-conserved': () => framesConserved(k, stride),
    'no-lock-held-at-end': () => noLockHeldAtEnd(k),
    'no-migration-entry-at-end': () => noMigrationEntryAtEnd(k),
  };
  const only = options.only ?? KERNEL_INVARIANT_NAMES;
  for (const name of only) {
    if (!(name in all)) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `${String(name)} is not a kernel invariant (known: ${KERNEL_INVARIANT_NAMES.join(', ')})`,
      );
    }
  }
  return KERNEL_INVARIANT_NAMES.filter((n) => only.includes(n)).map((n) => all[n]());
}
