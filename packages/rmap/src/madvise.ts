import { EINVAL, ENOMEM, type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  MADV_COLD,
  MADV_COLLAPSE,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_HWPOISON,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_SOFT_OFFLINE,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  PAGE_SIZE,
  VM_HUGEPAGE,
  VM_LOCKED,
  VM_NOHUGEPAGE,
  VM_RAND_READ,
  VM_SEQ_READ,
} from './constants.js';
import { ksmMadvise } from './ksm.js';
import type { Mm } from './mm.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbRange } from './tlb.js';
import type { Vma } from './vma.js';
import { vmaModify } from './vma-merge.js';
import { MmuGather, tlbFreePages, zapRange } from './zap.js';

/* madvise(2) (mm/madvise.c, Linux 6.3). */

/**
 * `madvise_behavior_valid(behavior)` (mm/madvise.c, 6.3) for a kernel with CONFIG_KSM,
 * CONFIG_TRANSPARENT_HUGEPAGE and CONFIG_MEMORY_FAILURE: the advice values the kernel
 * knows. Anything else is -EINVAL before any other check.
 */
export function madviseBehaviorValid(behavior: number): boolean {
  switch (behavior) {
    case MADV_DOFORK:
    case MADV_DONTFORK:
    case MADV_NORMAL:
    case MADV_SEQUENTIAL:
    case MADV_RANDOM:
    case MADV_REMOVE:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
    case MADV_FREE:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_COLLAPSE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
    case MADV_SOFT_OFFLINE:
    case MADV_HWPOISON:
      return true;
    default:
      return false;
  }
}

/** The advices the model carries out (the others are valid but not modelled). */
const MODELLED = new Set<number>([
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
]);

/**
 * The argument checks at the top of `do_madvise` (mm/madvise.c, 6.3), in its order:
 * -EINVAL for an unknown advice, a misaligned `start`, or a range that wraps; 0 for an
 * empty range. Returns the page-aligned end of the range (> start), or 0 / -errno to
 * return at once. MADV_SOFT_OFFLINE and MADV_HWPOISON then go to `madvise_inject_error`
 * with the unaligned end `start + len_in`, before any lock is taken (see the kernel
 * package's `madvise`).
 */
export function madviseCheck(start: number, lenIn: number, behavior: number): number {
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new MmsimError('INVALID_ARGUMENT', `madvise: start must be an address, got ${start}`);
  }
  if (!Number.isSafeInteger(lenIn) || lenIn < 0) {
    throw new MmsimError('INVALID_ARGUMENT', `madvise: len must be a size, got ${lenIn}`);
  }
  if (!Number.isInteger(behavior)) {
    throw new MmsimError('INVALID_ARGUMENT', `madvise: advice must be an integer, got ${behavior}`);
  }
  if (!madviseBehaviorValid(behavior)) return -EINVAL;
  if (start % PAGE_SIZE !== 0) return -EINVAL;
  const len = Math.ceil(lenIn / PAGE_SIZE) * PAGE_SIZE;
  const end = start + len;
  if (end > 2 ** 64) return -EINVAL; // end < start after the wrap
  if (end === start) return 0;
  return end;
}

/**
 * `madvise_need_mmap_write(behavior)` (mm/madvise.c, 6.3): the advices that only read
 * the VMA tree take `mmap_lock` for read.
 */
function madviseNeedMmapWrite(behavior: number): boolean {
  switch (behavior) {
    case MADV_REMOVE:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_FREE:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
    case MADV_COLLAPSE:
      return false;
    default:
      return true;
  }
}

/**
 * `madvise_dontneed_free_valid_vma` + `madvise_dontneed_single_vma` (mm/madvise.c, 6.3):
 * -EINVAL on a VM_LOCKED VMA (unless MADV_DONTNEED_LOCKED; VM_PFNMAP and hugetlb VMAs are
 * not modelled), else `zap_page_range_single(vma, start, end - start)`: every entry of
 * the range is cleared (a huge PMD straddling an edge is split), the TLBs of the range are
 * flushed, then the pages' references are put, so that unshared pages are freed. The next
 * access faults in a new zero-filled page (anonymous) or the file's page again.
 */
function* madviseDontneed(
  ctx: RmapState,
  vma: Vma,
  start: number,
  end: number,
  behavior: number,
): KernelGen<number> {
  if (behavior !== MADV_DONTNEED_LOCKED && (vma.flags & VM_LOCKED) !== 0) return -EINVAL;
  const tlb = new MmuGather();
  yield* zapRange(ctx, vma, start / PAGE_SIZE, end / PAGE_SIZE, tlb);
  if (tlb.needsFlush) flushTlbRange(ctx, vma.mm, tlb.startVpn, tlb.endVpn - tlb.startVpn);
  yield* tlbFreePages(ctx, tlb);
  return 0;
}

/**
 * The VM_* flags an advice gives a VMA (`madvise_vma_behavior` + `hugepage_madvise`,
 * mm/madvise.c, mm/khugepaged.c, 6.3): MADV_NORMAL / RANDOM / SEQUENTIAL set the
 * read-ahead hints; MADV_HUGEPAGE sets VM_HUGEPAGE and clears VM_NOHUGEPAGE,
 * MADV_NOHUGEPAGE the other way round.
 */
function adviceFlags(flags: number, behavior: number): number {
  switch (behavior) {
    case MADV_NORMAL:
      return flags & ~(VM_RAND_READ | VM_SEQ_READ);
    case MADV_SEQUENTIAL:
      return (flags & ~VM_RAND_READ) | VM_SEQ_READ;
    case MADV_RANDOM:
      return (flags & ~VM_SEQ_READ) | VM_RAND_READ;
    case MADV_HUGEPAGE:
      return (flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
    case MADV_NOHUGEPAGE:
      return (flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
    default:
      return flags;
  }
}

/**
 * `madvise_vma_behavior(vma, prev, start, end, behavior)` (mm/madvise.c, 6.3) on the part
 * `[start, end)` of one VMA. Flag advices go through `madvise_update_vma` (split at the
 * edges, merged with the neighbours afterwards: `vmaModify`). Returns the VMA now covering
 * the part and 0 or -errno.
 */
function* madviseVmaBehavior(
  ctx: RmapState,
  vma: Vma,
  start: number,
  end: number,
  behavior: number,
): KernelGen<{ vma: Vma; error: number }> {
  if (behavior === MADV_DONTNEED || behavior === MADV_DONTNEED_LOCKED) {
    const error = yield* madviseDontneed(ctx, vma, start, end, behavior);
    return { vma, error };
  }
  const newflags = adviceFlags(vma.flags, behavior);
  const out = yield* vmaModify(
    ctx,
    vma,
    start,
    end,
    (v) => v.flags !== newflags,
    (v) => {
      v.flags = newflags;
      return undefined;
    },
  );
  return { vma: out, error: 0 };
}

/**
 * `madvise(start, len, advice)` (`do_madvise` + `madvise_walk_vmas`, mm/madvise.c, Linux
 * 6.3) for the advices the rmap side carries out: MADV_DONTNEED and MADV_DONTNEED_LOCKED
 * (zap the range), MADV_HUGEPAGE / MADV_NOHUGEPAGE (VM_HUGEPAGE / VM_NOHUGEPAGE; a later
 * fault of a PMD-aligned, fully covered 2 MiB range of a private anonymous VMA maps a THP,
 * see `thpEligible`), MADV_NORMAL / RANDOM / SEQUENTIAL (the read-ahead flags). Returns 0
 * or a negative errno:
 *
 * - -EINVAL: an unknown advice, a misaligned `start`, a wrapping range (`madviseCheck`);
 *   MADV_DONTNEED on a VM_LOCKED VMA (the VMAs before it were done).
 * - `len` 0 (after rounding): 0.
 * - -ENOMEM: part of the range is not mapped. The mapped parts are still advised (the
 *   walk goes on past a hole and reports it at the end), except that the walk stops at
 *   once when no VMA is left above the current address.
 *
 * MADV_SOFT_OFFLINE / MADV_HWPOISON need the migration core: `Kernel.madvise` in
 * @mmsim/kernel handles them and passes every other advice here, which throws
 * INVALID_ARGUMENT for them. MADV_MERGEABLE / MADV_UNMERGEABLE go to `ksm_madvise`
 * (ksm.ts, which takes `mmap_lock` itself). The other valid advices the model does not
 * carry out (WILLNEED, FREE, REMOVE, COLD, PAGEOUT, POPULATE_*,
 * COLLAPSE, DONTFORK, DOFORK, DONTDUMP, DODUMP, WIPEONFORK, KEEPONFORK) throw
 * INVALID_ARGUMENT too, after the argument checks.
 */
export function* madvise(
  ctx: RmapState,
  mm: Mm,
  start: number,
  lenIn: number,
  behavior: number,
): KernelGen<number> {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `madvise: ${mm} has exited`);
  const end = madviseCheck(start, lenIn, behavior);
  if (end <= 0) return end;
  if (behavior === MADV_SOFT_OFFLINE || behavior === MADV_HWPOISON) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'madvise: MADV_SOFT_OFFLINE / MADV_HWPOISON need the migration core; call Kernel.madvise',
    );
  }
  if (behavior === MADV_MERGEABLE || behavior === MADV_UNMERGEABLE) {
    return yield* ksmMadvise(ctx, mm, start, lenIn, behavior);
  }
  if (!MODELLED.has(behavior)) {
    throw new MmsimError('INVALID_ARGUMENT', `madvise: advice ${behavior} is not modelled`);
  }
  const write = madviseNeedMmapWrite(behavior);
  const sem = mm.mmapLock;
  if (write) {
    if (!sem.downWriteTrylock()) yield* sem.downWrite('madvise');
  } else if (!sem.downReadTrylock()) yield* sem.downRead('madvise');
  try {
    return yield* madviseWalkVmas(ctx, mm, start, end, behavior);
  } finally {
    if (write) sem.upWrite();
    else sem.upRead();
  }
}

/** `madvise_walk_vmas(mm, start, end, behavior, madvise_vma_behavior)` (mm/madvise.c, 6.3). */
function* madviseWalkVmas(
  ctx: RmapState,
  mm: Mm,
  start: number,
  end: number,
  behavior: number,
): KernelGen<number> {
  let unmappedError = 0;
  let vma = mm.findVma(start);
  for (;;) {
    if (vma === null) return -ENOMEM;
    if (start < vma.start) {
      unmappedError = -ENOMEM;
      start = vma.start;
      if (start >= end) break;
    }
    const tmp = Math.min(vma.end, end);
    const { vma: done, error } = yield* madviseVmaBehavior(ctx, vma, start, tmp, behavior);
    if (error !== 0) return error;
    start = Math.max(tmp, Math.min(done.end, end));
    if (start >= end) break;
    vma = mm.findVma(Math.max(done.end, start));
  }
  return unmappedError;
}
