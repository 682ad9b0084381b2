import type { KernelGen } from '@mmsim/runtime';
import { iMmapLockWrite } from './address-space.js';
import { anonVmaClone, anonVmaLockWrite, unlinkAnonVmas } from './anon-vma.js';
import { PAGE_SIZE, VM_IO, VM_SOFTDIRTY } from './constants.js';
import { mpolEqual } from './mempolicy.js';
import type { Mm } from './mm.js';
import { splitVma } from './munmap.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/*
 * VMA merging (mm/mmap.c `vma_merge` with `vma_prepare` / `vma_complete`, Linux 6.3), for the system calls
 * that change the attributes of part of a mapping (mprotect, madvise, mbind): they split
 * the VMAs at the range's edges, change the attributes of the VMAs inside, and merge each
 * with its neighbours where the two have become compatible again.
 *
 * The kernel's `mprotect_fixup` / `madvise_update_vma` / `mbind_range` call `vma_merge`
 * with the new attributes first and only split when no merge is possible; the VMA layout
 * that results is the same as split, change, merge, which is what `vmaModify` does.
 */

/**
 * `VM_SPECIAL` (include/linux/mm.h, 6.3) reduced to the bits the model has: such a VMA
 * never merges. Only VM_IO exists in the model (VM_DONTEXPAND, VM_PFNMAP, VM_MIXEDMAP do
 * not).
 */
const VM_SPECIAL = VM_IO;

/**
 * `is_mergeable_vma(vma, file, vm_flags, ...)` (mm/mmap.c, 6.3): the same flags apart
 * from VM_SOFTDIRTY, the same file, neither VM_SPECIAL, the same policy (`mpol_equal`,
 * checked by `vma_merge` itself). userfaultfd contexts and anon names are not modelled
 * apart from the VM_UFFD_WP flag, which the flag comparison covers.
 */
function isMergeableVma(a: Vma, b: Vma): boolean {
  if (((a.flags ^ b.flags) & ~VM_SOFTDIRTY) !== 0) return false;
  if ((a.flags & VM_SPECIAL) !== 0) return false;
  if (a.file !== b.file) return false;
  return mpolEqual(a.policy, b.policy);
}

/**
 * `is_mergeable_anon_vma(anon_vma, existing->anon_vma, existing)` (mm/mmap.c, 6.3): the
 * range's anon_vma and the existing neighbour's are the same, or one is missing and the
 * neighbour is chained to one anon_vma only (`list_is_singular(&vma->anon_vma_chain)`:
 * not a VMA cloned from a parent's). As in 6.3, a neighbour with no anon_vma has an empty
 * chain, which is not singular, so it merges only with a range that has none either.
 */
function isMergeableAnonVma(range: Vma, existing: Vma): boolean {
  const a = range.anonVma;
  const b = existing.anonVma;
  if ((a === null || b === null) && existing.anonVmaChain.length === 1) return true;
  return a === b;
}

/**
 * `can_vma_merge_after(prev, ...)` / `can_vma_merge_before(next, ...)` (mm/mmap.c, 6.3)
 * for two adjacent VMAs, `existing` being the neighbour the other one (the range whose
 * attributes just changed) merges into or absorbs: mergeable attributes and anon_vmas,
 * and `vm_pgoff` continuing across the boundary, so that `linear_page_index` stays right
 * for every page of both (an anonymous VMA moved by mremap keeps its old `vm_pgoff` and
 * so does not merge with its new neighbours).
 */
export function canMergeAdjacent(prev: Vma, next: Vma, existing: 'prev' | 'next'): boolean {
  if (prev.mm !== next.mm || prev.end !== next.start) return false;
  if (!isMergeableVma(prev, next)) return false;
  const ok = existing === 'prev' ? isMergeableAnonVma(next, prev) : isMergeableAnonVma(prev, next);
  if (!ok) return false;
  return prev.pgoff + (prev.end - prev.start) / PAGE_SIZE === next.pgoff;
}

/**
 * `vma_merge`'s case where `prev` grows over `next`, which goes (mm/mmap.c, 6.3: the
 * `vma_prepare` / `vma_complete` pair with `vp.remove = next`; before 6.3 the same work was
 * `__vma_adjust(..., remove_next == 1)`, removed by Liam Howlett's "mm/mmap: remove
 * __vma_adjust()", commit 0503ea8f5ba7, series <20230120162650.984577-1-Liam.Howlett@oracle.com>).
 * If only `next` has an anon_vma, `prev` first takes it over (`dup_anon_vma` ->
 * `anon_vma_clone`). `prev` grows and the file's i_mmap loses `next` under `i_mmap_rwsem`
 * and then the anon_vma's rwsem, both for write (`vma_prepare`'s order; `__vma_adjust` took
 * the same ones in the same order): no rmap walk sees the VMAs half-changed. `next`'s
 * anon_vma chain is then unlinked (`vma_complete` -> `anon_vma_merge` -> `unlink_anon_vmas`). The caller holds `mmap_lock` for
 * write and has checked `canMergeAdjacent`. The page tables are untouched: the same pages
 * stay mapped at the same addresses, and their `linear_page_index` in `prev` is the one
 * they had in `next`.
 */
export function* vmaMergeNext(ctx: RmapState, prev: Vma, next: Vma): KernelGen {
  const mm = prev.mm;
  if (prev.anonVma === null && next.anonVma !== null) {
    prev.anonVma = next.anonVma;
    yield* anonVmaClone(prev, next);
  }
  const file = next.file;
  if (file !== null) yield* iMmapLockWrite(file, 'vma_prepare');
  const av = prev.anonVma;
  if (av !== null) yield* anonVmaLockWrite(av, 'vma_prepare');
  prev.end = next.end;
  // VM_SOFTDIRTY does not block a merge; the merged VMA keeps it if either had it.
  prev.flags |= next.flags & VM_SOFTDIRTY;
  mm.removeVma(next);
  if (av !== null) av.rwsem.upWrite();
  if (file !== null) {
    file.iMmap.delete(next);
    file.iMmapRwsem.upWrite();
  }
  yield* unlinkAnonVmas(ctx, next);
}

/**
 * Merges `vma` with the VMA just below it and then with the one just above it, where
 * `canMergeAdjacent` allows (the outcome of `vma_merge` cases 1-8, mm/mmap.c, 6.3).
 * Returns the VMA that now covers `vma`'s range. The caller holds `mmap_lock` for write.
 */
export function* vmaMergeNeighbours(ctx: RmapState, vma: Vma): KernelGen<Vma> {
  const mm = vma.mm;
  let cur = vma;
  const i = mm.vmas.indexOf(cur);
  const prev = i > 0 ? mm.vmas[i - 1]! : null;
  if (prev !== null && canMergeAdjacent(prev, cur, 'prev')) {
    yield* vmaMergeNext(ctx, prev, cur);
    cur = prev;
  }
  const j = mm.vmas.indexOf(cur);
  const next = mm.vmas[j + 1] ?? null;
  if (next !== null && canMergeAdjacent(cur, next, 'next')) yield* vmaMergeNext(ctx, cur, next);
  return cur;
}

/**
 * The attribute change of mprotect / madvise / mbind on one VMA (`mprotect_fixup`,
 * `madvise_update_vma`, `mbind_range`, 6.3): when `apply` would change something, split
 * `vma` so that exactly `[start, end)` (clipped to it) is one VMA (`split_vma`, which
 * also splits a huge PMD straddling a cut), let `apply` change it, then merge it with its
 * neighbours. Returns the VMA that covers the range afterwards. `wouldChange(vma)` false
 * leaves everything as it is (the kernel's "nothing to do" early return). The caller holds
 * `mmap_lock` for write.
 */
export function* vmaModify(
  ctx: RmapState,
  vma: Vma,
  start: number,
  end: number,
  wouldChange: (vma: Vma) => boolean,
  apply: (vma: Vma) => KernelGen | undefined,
): KernelGen<Vma> {
  if (!wouldChange(vma)) return vma;
  const from = Math.max(start, vma.start);
  const to = Math.min(end, vma.end);
  let target = vma;
  if (target.start < from) target = yield* splitVma(ctx, target, from);
  if (target.end > to) yield* splitVma(ctx, target, to);
  const gen = apply(target);
  if (gen !== undefined) yield* gen;
  return yield* vmaMergeNeighbours(ctx, target);
}

/** The VMAs of `mm` that overlap `[start, end)`, in address order (a snapshot). */
export function vmasInRange(mm: Mm, start: number, end: number): Vma[] {
  const out: Vma[] = [];
  for (const vma of mm.vmas) {
    if (vma.end <= start) continue;
    if (vma.start >= end) break;
    out.push(vma);
  }
  return out;
}
