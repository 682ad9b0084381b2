import type { Folio } from '@mmsim/folio';
import {
  type Actor,
  filemapLockFolioPlain,
  folioUnlockPutPlain,
  type Kernel,
  pageCacheDeclaresFootprints,
} from '@mmsim/kernel';
import type { AddressSpaceView } from '@mmsim/rmap';
import { type KernelGen, MmsimError } from '@mmsim/runtime';

/** Options of `rangeLocker`. */
export interface RangeLockerOptions {
  /** Default `range-lock`. */
  readonly name?: string;
  readonly cpu: number;
  readonly file: AddressSpaceView;
  /** First index and number of pages of the run it locks. */
  readonly first: number;
  readonly pages: number;
  /**
   * How many pages of the run (from `first`) each round locks, cycled through: delalloc
   * ranges vary in length. Default `[pages]`.
   */
  readonly lengths?: readonly number[];
  readonly rounds: number;
  /** Scheduling points it passes while holding the whole run (the I/O set-up). Default 2. */
  readonly holdSteps?: number;
}

/**
 * A task that locks a run of page-cache folios in ascending index order and holds them
 * together, as some filesystems do for delayed allocation or compressed writes (btrfs
 * `lock_delalloc_pages` / `__process_pages_contig` with PAGE_LOCK, fs/btrfs/extent_io.c,
 * 6.3): each with `__filemap_get_folio(FGP_LOCK)`, sleeping on contention. Ascending order
 * is the kernel's only convention for holding several folio locks (John Hubbard, in the
 * RFC thread), and the one a migration batch in list order can invert.
 */
export function rangeLocker(k: Kernel, options: RangeLockerOptions): Actor {
  const { file, first, pages, rounds } = options;
  const hold = options.holdSteps ?? 2;
  const lengths = options.lengths ?? [pages];
  if (lengths.length === 0 || !lengths.every((n) => Number.isInteger(n) && n >= 1 && n <= pages)) {
    throw new MmsimError('INVALID_ARGUMENT', `lengths must list run lengths in [1, ${pages}]`);
  }
  if (!Number.isInteger(rounds) || rounds < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `rounds must be a non-negative integer, got ${String(rounds)}`,
    );
  }
  return {
    name: options.name ?? 'range-lock',
    cpu: options.cpu,
    // Between its locked lookups and unlocks the body touches nothing shared: with the
    // kernel's own page locks and LRU its steps declare their footprints (folio, page cache).
    declaresFootprints: pageCacheDeclaresFootprints(k),
    models:
      'lock_delalloc_pages: __filemap_get_folio(FGP_LOCK) over a range, ascending (fs/btrfs/extent_io.c, 6.3)',
    body: () => rangeLockerBody(k, file, first, lengths, hold, rounds),
  };
}

/** `rangeLocker`'s task body (a module-level generator: see `initTask` in scenario.ts). */
function* rangeLockerBody(
  k: Kernel,
  file: AddressSpaceView,
  first: number,
  lengths: readonly number[],
  hold: number,
  rounds: number,
): KernelGen {
  const held: Folio[] = []; // one array for every round
  // Each scheduling point as `if (!rt.virtualStep()) yield;`: the same step and decision
  // as the `yield` (`Runtime.virtualStep`), taken without suspending when this task runs on.
  const rt = k.rt;
  for (let round = 0; round < rounds; round++) {
    held.length = 0;
    const length = lengths[round % lengths.length] as number;
    for (let i = 0; i < length; i++) {
      // As plain calls while nothing waits; the generator from where it would.
      const got = filemapLockFolioPlain(k, file, first + i, 'lock_delalloc_pages');
      const folio = typeof got === 'number' ? got : yield* got;
      if (folio >= 0) held.push(folio);
      if (!rt.virtualStep()) yield;
    }
    for (let i = 0; i < hold; i++) if (!rt.virtualStep()) yield;
    for (let i = held.length - 1; i >= 0; i--) {
      const rest = folioUnlockPutPlain(k, held[i] as Folio);
      if (rest !== null) yield* rest;
    }
    if (!rt.virtualStep()) yield;
  }
}
