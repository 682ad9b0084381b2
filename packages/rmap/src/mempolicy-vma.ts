import type { KernelGen } from '@mmsim/runtime';
import { anonVmaLockWrite } from './anon-vma.js';
import { VM_SOFTDIRTY } from './constants.js';
import { type Mempolicy, mpolEqual, mpolRebindPolicy, type Nodemask } from './mempolicy.js';
import type { Mm } from './mm.js';
import { splitVma, unlinkVma } from './munmap.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/*
 * Per-VMA memory policies: mbind_range with the VMA split at the range's edges and merged
 * back where neighbours end up alike (mm/mempolicy.c, mm/mmap.c, Linux 6.3). A vma-merge
 * helper of the package's own did not exist when this was written, so the merge the
 * policy change needs is here.
 */

/** The anon_vmas a VMA's chain links, as a comparable list. */
function chainAnonVmas(vma: Vma): unknown[] {
  return vma.anonVmaChain.map((avc) => avc.anonVma);
}

/**
 * Whether `prev` and `next` (adjacent, `prev.end === next.start`) can become one VMA
 * (`can_vma_merge_after` with `is_mergeable_vma` / `is_mergeable_anon_vma`, mm/mmap.c,
 * 6.3): the same flags but VM_SOFTDIRTY, the same file at contiguous offsets, an equal
 * policy (`mpol_equal`), and the same anon_vma. The model asks for the same anon_vma
 * chain too, where the kernel also merges a VMA without an anon_vma into one that has
 * one (it then clones the chain); a VMA that could merge that way stays separate.
 */
export function vmasMergeable(prev: Vma, next: Vma): boolean {
  if (prev.end !== next.start || prev.mm !== next.mm) return false;
  if (((prev.flags ^ next.flags) & ~VM_SOFTDIRTY) !== 0) return false;
  if (prev.file !== next.file) return false;
  if (prev.pgoff + prev.nrPages !== next.pgoff) return false;
  if (!mpolEqual(prev.policy, next.policy)) return false;
  if (prev.anonVma !== next.anonVma) return false;
  const a = chainAnonVmas(prev);
  const b = chainAnonVmas(next);
  return a.length === b.length && a.every((av, i) => av === b[i]);
}

/**
 * `vma_merge` of two adjacent mergeable VMAs (mm/mmap.c `__vma_adjust`, 6.3): under the
 * file's `i_mmap_rwsem` and the anon_vma's lock for write (so that no rmap walk runs
 * meanwhile), `prev` grows over `next` and `next` becomes empty; then `next` leaves the
 * mm, its file's i_mmap and its anon_vma chains. Page tables are shared by address and
 * need nothing.
 */
export function* vmaMergeInto(ctx: RmapState, prev: Vma, next: Vma): KernelGen {
  const file = prev.file;
  if (file !== null) {
    const sem = file.iMmapRwsem;
    if (!sem.downWriteTrylock()) yield* sem.downWrite('vma_merge');
  }
  const av = prev.anonVma;
  if (av !== null) yield* anonVmaLockWrite(av, 'vma_merge');
  prev.end = next.end;
  next.pgoff += next.nrPages;
  next.start = next.end;
  next.mm.removeVma(next);
  if (av !== null) av.rwsem.upWrite();
  if (file !== null) file.iMmapRwsem.upWrite();
  yield* unlinkVma(ctx, next);
}

/**
 * `vma_replace_policy(vma, pol)` (mm/mempolicy.c, 6.3): the VMA's policy becomes `pol`
 * (the kernel duplicates it; the model's VMAs may share one policy object, as they do not
 * change it in place except through `mpolRebindMm`, which visits each object once).
 */
export function vmaReplacePolicy(vma: Vma, pol: Mempolicy | null): number {
  vma.policy = pol;
  return 0;
}

/**
 * `mbind_range(mm, start, end, new_pol)` (mm/mempolicy.c, 6.3) for every VMA in
 * `[start, end)` (the caller holds `mmap_lock` for write): a VMA whose policy differs is
 * split at the range's edges (`split_vma`) and given the new policy; then the VMAs of
 * the range and their neighbours are merged where they are alike (`vma_merge`, which the
 * kernel tries before splitting: the outcome is the same set of VMAs). Returns 0.
 */
export function* mbindRange(
  ctx: RmapState,
  mm: Mm,
  start: number,
  end: number,
  pol: Mempolicy | null,
): KernelGen<number> {
  let vma = mm.findVma(start);
  while (vma !== null && vma.start < end) {
    if (!mpolEqual(vma.policy, pol)) {
      if (vma.start < start) {
        vma = yield* splitVma(ctx, vma, start);
      }
      if (vma.end > end) yield* splitVma(ctx, vma, end);
      vmaReplacePolicy(vma, pol);
    }
    vma = mm.findVma(vma.end);
  }
  yield* mergeAround(ctx, mm, start, end);
  return 0;
}

/** Merges alike neighbours among the VMAs touching `[start, end]`. */
function* mergeAround(ctx: RmapState, mm: Mm, start: number, end: number): KernelGen {
  let prev = mm.findVma(start > 0 ? start - 1 : 0);
  while (prev !== null && prev.start <= end) {
    const next = mm.findVma(prev.end);
    if (next === null || next.start > end) return;
    if (vmasMergeable(prev, next)) yield* vmaMergeInto(ctx, prev, next);
    else prev = next;
  }
}

/**
 * `mpol_rebind_mm(mm, new)` (mm/mempolicy.c, 6.3): under `mmap_lock` for write, every
 * VMA's policy is rebound to the new cpuset mems (`mpol_rebind_policy`), each policy
 * object once.
 */
export function* mpolRebindMm(mm: Mm, newMems: Nodemask): KernelGen {
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('mpol_rebind_mm');
  const seen = new Set<Mempolicy>();
  for (const vma of mm.vmas) {
    const pol = vma.policy;
    if (pol === null || seen.has(pol)) continue;
    seen.add(pol);
    mpolRebindPolicy(pol, newMems);
  }
  sem.upWrite();
}
