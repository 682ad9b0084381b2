import { type Folio, folioTestFlag, PG_dirty, PG_writeback } from '@mmsim/folio';
import {
  type Actor,
  filemapGetFolioPlain,
  folioClearDirtyForIo,
  folioPutDeclaredPlain,
  type Kernel,
  pageCacheDeclaresFootprints,
  pageCacheLookup,
} from '@mmsim/kernel';
import { BH_Mapped, BH_Uptodate } from '@mmsim/page-lock';
import type { AddressSpaceView } from '@mmsim/rmap';
import { FP_MAPPING, type KernelGen, MmsimError } from '@mmsim/runtime';

/**
 * Where a writeback worker sends a folio: a block device (`BlockDevice`) or a loop
 * device (`LoopDevice`). `submit` is called with the folio locked and under writeback
 * owned by the caller; it hands the writeback to the task that will end it.
 */
export interface WritebackTarget {
  readonly name: string;
  submitWriteback(folio: Folio, index: number): void;
  /**
   * Whether `submitWriteback` and `close` record every shared access they make (for
   * partial-order reduction): a worker submitting to such a target declares its footprints.
   */
  readonly submitDeclaresFootprints?: boolean;
  /** The worker is done submitting. */
  close(): void;
}

/** Options of `writebackWorker`. */
export interface WritebackWorkerOptions {
  /** Default `kworker/flush`. */
  readonly name?: string;
  readonly cpu: number;
  readonly file: AddressSpaceView;
  /** The page indices it writes back, in this order (default 0 .. `pages - 1`). */
  readonly indices: readonly number[];
  /** Passes over the indices. */
  readonly rounds: number;
  readonly target: WritebackTarget;
  /**
   * Buffers per page to attach to a folio that has none (`create_empty_buffers` in
   * `__block_write_full_page`), for a buffer-head filesystem; default 0 (none, as iomap).
   */
  readonly buffersPerPage?: number;
}

/**
 * A writeback worker in the style of `write_cache_pages` (mm/page-writeback.c, 6.3) with
 * WB_SYNC_NONE: for each index in ascending order, look the folio up with a reference,
 * `folio_lock` it (the only folio lock it holds: as Alistair Popple noted in the RFC
 * thread, `write_cache_pages` locks one page at a time), skip it if it left the file, is
 * clean or already under writeback, `folio_clear_dirty_for_io`, attach buffers if the
 * filesystem uses them, `folio_start_writeback`, submit the I/O (which ends the writeback
 * later, in another task), `folio_unlock`. It yields between folios (`cond_resched`).
 */
export function writebackWorker(k: Kernel, options: WritebackWorkerOptions): Actor {
  const { rounds, target } = options;
  const buffers = options.buffersPerPage ?? 0;
  if (!Number.isInteger(rounds) || rounds < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `rounds must be a non-negative integer, got ${String(rounds)}`,
    );
  }
  return {
    name: options.name ?? 'kworker/flush',
    cpu: options.cpu,
    models: `write_cache_pages (mm/page-writeback.c, 6.3), WB_SYNC_NONE, to ${target.name}`,
    // Every shared access is recorded (lookup, folio lock, PG_dirty / PG_writeback, the
    // put) when the target's submission is too; creating buffers is global.
    declaresFootprints: pageCacheDeclaresFootprints(k) && target.submitDeclaresFootprints === true,
    body: (): KernelGen => writebackWorkerBody(k, options, buffers),
  };
}

/** `writebackWorker`'s task body (a module-level generator: see `initTask` in scenario.ts). */
function* writebackWorkerBody(
  k: Kernel,
  options: WritebackWorkerOptions,
  buffers: number,
): KernelGen {
  const { file, indices, rounds, target } = options;
  const mem = k.mem;
  const locks = k.locks;
  for (let round = 0; round < rounds; round++) {
    for (const index of indices) {
      const got = filemapGetFolioPlain(k, file, index);
      const folio = typeof got === 'number' ? got : yield* got;
      if (folio < 0) continue;
      if (!locks.folioLockFast(folio, 'write_cache_pages')) {
        yield* locks.folioLockContended(folio, 'write_cache_pages');
      }
      k.rt.touchKernel(FP_MAPPING, file.id, false);
      const ours = pageCacheLookup(mem, file, index) === folio;
      if (ours && !folioTestFlag(mem, folio, PG_writeback) && folioTestFlag(mem, folio, PG_dirty)) {
        folioClearDirtyForIo(k, folio);
        if (buffers > 0 && locks.folioBuffers(folio) === null) {
          // alloc_page_buffers: new buffer ids, not declared (a global step)
          const depth = k.rt.suspendDeclaredScope();
          locks.createBuffers(folio, buffers, (1 << BH_Uptodate) | (1 << BH_Mapped));
          k.rt.resumeDeclaredScope(depth);
        }
        locks.folioStartWriteback(folio, 'write_cache_pages');
        target.submitWriteback(folio, index);
      }
      locks.folioUnlock(folio);
      const rest = folioPutDeclaredPlain(k, folio);
      if (rest !== null) yield* rest;
      // cond_resched(): the same step and decision as a `yield`, without suspending when
      // this task runs on (`Runtime.virtualStep`).
      if (!k.rt.virtualStep()) yield;
    }
  }
  target.close();
}
