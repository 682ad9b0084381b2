import type { KernelGen } from '@mmsim/runtime';
import { type Mempolicy, mpolEqual, mpolRebindPolicy, type Nodemask } from './mempolicy.js';
import type { Mm } from './mm.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';
import { vmaModify } from './vma-merge.js';

/*
 * Per-VMA memory policies: mbind_range with the VMA split at the range's edges and merged
 * back where neighbours end up alike (mm/mempolicy.c, Linux 6.3); the split and the merge
 * are vma-merge.ts's (`vmaModify`), as for mprotect and madvise.
 */

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
 * `[start, end)` (the caller holds `mmap_lock` for write): a VMA whose policy is already
 * `new_pol` is left as it is (`mpol_equal`); any other is split at the range's edges
 * (`split_vma`), given the new policy (`vma_replace_policy`) and merged with its neighbours
 * where they have become alike (`vma_merge`, which the kernel tries before splitting: the
 * outcome is the same set of VMAs). The split and merge are those of mprotect and madvise:
 * `vmaModify`. Returns 0.
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
    const covering = yield* vmaModify(
      ctx,
      vma,
      start,
      end,
      (v) => !mpolEqual(v.policy, pol),
      (v) => {
        vmaReplacePolicy(v, pol);
        return undefined;
      },
    );
    vma = mm.findVma(covering.end);
  }
  return 0;
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
