import {
  folioMapcount,
  folioNid,
  folioTestAnon,
  folioTestFlag,
  PG_dirty,
  pfnFolio,
} from '@mmsim/folio';
import {
  type Mempolicy,
  MPOL_BIND,
  MPOL_F_RELATIVE_NODES,
  MPOL_F_STATIC_NODES,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
  nodemaskNodes,
  PAGE_SIZE,
  PMD_SIZE,
  VM_HUGETLB,
  type VmaView,
} from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import type { Process } from './process.js';
import type { Userland } from './userland.js';

/** One line of /proc/<pid>/numa_maps: a VMA, its policy and where its pages are. */
export interface NumaMapsEntry {
  readonly start: number;
  /** `mpol_to_str` of the VMA's policy: `default`, `bind:0-1`, `interleave:0,2`, `prefer:1`, ... */
  readonly policy: string;
  /** `file=`, `huge` (hugetlb) or `anon` (private or shared anonymous memory). */
  readonly kind: 'file' | 'huge' | 'anon';
  /** Pages (huge pages for hugetlb) mapped, by node: the `N<node>=` fields. */
  readonly nodes: Readonly<Record<number, number>>;
  /** `anon=`: of those, anonymous pages. */
  readonly anon: number;
  /** `dirty=`: pages with a dirty entry or a dirty folio. */
  readonly dirty: number;
  /** `mapmax=`: the highest mapcount met (shown when above 1). */
  readonly mapmax: number;
  /** `kernelpagesize_kB=`: 4, or 2048 for hugetlb. */
  readonly kernelPageSizeKb: number;
}

/** `mpol_to_str` (mm/mempolicy.c, 6.3) of a VMA policy; null is the default policy. */
export function mpolToStr(pol: Mempolicy | null): string {
  if (pol === null) return 'default';
  const name =
    pol.mode === MPOL_PREFERRED
      ? 'prefer'
      : pol.mode === MPOL_BIND
        ? 'bind'
        : pol.mode === MPOL_INTERLEAVE
          ? 'interleave'
          : pol.mode === MPOL_PREFERRED_MANY
            ? 'prefer (many)'
            : pol.mode === MPOL_LOCAL
              ? 'local'
              : 'default';
  if (pol.mode === MPOL_LOCAL || name === 'default') return name;
  let flags = '';
  if ((pol.flags & MPOL_F_STATIC_NODES) !== 0) flags = '=static';
  else if ((pol.flags & MPOL_F_RELATIVE_NODES) !== 0) flags = '=relative';
  return `${name}${flags}:${nodelist(nodemaskNodes(pol.nodes))}`;
}

/** A node list as the kernel prints one (`%*pbl`): ranges joined by commas, `0-1,3`. */
function nodelist(nodes: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < nodes.length; ) {
    let j = i;
    while (j + 1 < nodes.length && nodes[j + 1] === (nodes[j] as number) + 1) j++;
    out.push(i === j ? `${nodes[i]}` : `${nodes[i]}-${nodes[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * /proc/<pid>/numa_maps (`show_numa_map`, fs/proc/task_mmu.c, 6.3): per VMA its policy and,
 * from a walk of its page tables (`gather_pte_stats`, `gather_hugetlb_stats`), how many of
 * its pages sit on each node, how many are anonymous and dirty, and the highest mapcount.
 * VMAs with no page mapped are listed without counts. The task policy that the kernel shows
 * for a VMA without its own is not shown (`default`): the model keeps task policies per
 * thread.
 */
export function numaMaps(userland: Userland, process: Process): NumaMapsEntry[] {
  const mm = process.mm;
  if (mm === null)
    throw new MmsimError('INVALID_ARGUMENT', `${process} is a kernel thread: it has no numa_maps`);
  const k = userland.kernel;
  return mm.vmas.map((vma: VmaView) => {
    const huge = (vma.flags & VM_HUGETLB) !== 0;
    const step = huge ? PMD_SIZE : PAGE_SIZE;
    const nodes: Record<number, number> = {};
    let anon = 0;
    let dirty = 0;
    let mapmax = 0;
    for (let addr = vma.start; addr < vma.end; addr += step) {
      const pte = k.vm.lookupPte(mm, addr);
      if (pte.kind !== 'present') continue;
      const folio = pfnFolio(k.mem, pte.pfn);
      const nid = folioNid(k.mem, folio);
      nodes[nid] = (nodes[nid] ?? 0) + 1;
      if (folioTestAnon(k.mem, folio)) anon++;
      if (pte.dirty || folioTestFlag(k.mem, folio, PG_dirty)) dirty++;
      mapmax = Math.max(mapmax, folioMapcount(k.mem, folio));
    }
    const kind = huge ? 'huge' : vma.file !== null && !vma.file.shmem ? 'file' : 'anon';
    return {
      start: vma.start,
      policy: mpolToStr(vma.policy),
      kind,
      nodes,
      anon,
      dirty,
      mapmax,
      kernelPageSizeKb: huge ? 2048 : 4,
    };
  });
}

/** The numa_maps text, one line per VMA, as `cat /proc/<pid>/numa_maps` prints it. */
export function formatNumaMaps(entries: readonly NumaMapsEntry[]): string {
  return entries
    .map((e) => {
      const parts = [e.start.toString(16).padStart(8, '0'), e.policy];
      if (e.kind === 'huge') parts.push('huge');
      const mapped = Object.values(e.nodes).reduce((a, b) => a + b, 0);
      if (e.anon > 0) parts.push(`anon=${e.anon}`);
      if (e.dirty > 0) parts.push(`dirty=${e.dirty}`);
      if (mapped > e.anon) parts.push(`mapped=${mapped}`);
      if (e.mapmax > 1) parts.push(`mapmax=${e.mapmax}`);
      for (const nid of Object.keys(e.nodes)
        .map(Number)
        .sort((a, b) => a - b)) {
        parts.push(`N${nid}=${e.nodes[nid]}`);
      }
      parts.push(`kernelpagesize_kB=${e.kernelPageSizeKb}`);
      return parts.join(' ');
    })
    .join('\n');
}
