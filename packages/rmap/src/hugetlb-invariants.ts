import {
  type Folio,
  folioIndex,
  folioTestAnon,
  folioTestFlag,
  folioTestHugetlb,
  PG_anon_exclusive,
  PG_locked,
  pageTestFlag,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { folioAddressSpace } from './address-space.js';
import { folioAnonVma } from './anon-vma.js';

import { isVmHugetlbPage, vmaHugecacheOffset } from './hugetlb-state.js';
import type { Mm } from './mm.js';
import { formatPte, isMigrationEntry, ptePfn, ptePresent, pteWrite } from './pte.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/** A counter per folio: a `Map`, or the rmap check's per-pfn arrays. */
export interface FolioCounter {
  get(folio: Folio): number | undefined;
  set(folio: Folio, value: number): unknown;
}

/** Where `checkHugetlbEntry` records what it finds (the rmap check's counters). */
export interface HugetlbCounts {
  readonly pmds: FolioCounter;
  readonly refs: FolioCounter;
}

function inc(map: FolioCounter, key: number): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Whether an entry belongs to the hugetlb checks: a VM_HUGETLB VMA, or a hugetlb folio. */
export function isHugetlbEntry(ctx: RmapState, vma: Vma, raw: number): boolean {
  if (isVmHugetlbPage(vma)) return true;
  const pfn = ptePfn(raw);
  const mem = ctx.mem;
  return (
    (ptePresent(raw) || isMigrationEntry(raw)) &&
    pfnValid(mem, pfn) &&
    pfnFolio(mem, pfn) >= 0 &&
    folioTestHugetlb(mem, pfnFolio(mem, pfn))
  );
}

/**
 * The rmap check of one entry of a hugetlb mapping (mm/hugetlb.c, mm/rmap.c, 6.3): only a
 * VM_HUGETLB VMA maps hugetlb folios, and only by huge entries (never a PTE table); each
 * entry maps (or, as a migration entry, names) the head of a hugetlb folio the rmap can
 * find (its anon_vma chained to the VMA, or the VMA's file, at the huge-page index
 * `vma_hugecache_offset` of the address); a migration entry's folio is locked; a
 * writable anonymous one is PageAnonExclusive. Present entries count as the folio's
 * entire mappings and references; nothing goes to the rss counters (hugetlb pages are
 * counted in `hugetlb_usage`, which the model does not keep).
 *
 * A migration entry to a page-cache folio that a successful migration has replaced
 * (`migrate_huge_page_move_mapping` put dst in the cache, and `remove_migration_ptes` has
 * not reached this VMA yet) is legal while src is locked, has no mapping, and the file
 * caches a locked folio at the index.
 */
export function checkHugetlbEntry(
  ctx: RmapState,
  mm: Mm,
  vma: Vma,
  addr: number,
  raw: number,
  huge: boolean,
  counts: HugetlbCounts,
  add: (message: string) => void,
): void {
  const mem = ctx.mem;
  const where = `${mm} 0x${addr.toString(16)}`;
  if (!isVmHugetlbPage(vma)) {
    add(`${where}: ${formatPte(raw)} maps a hugetlb folio in a VMA without VM_HUGETLB`);
    return;
  }
  if (!huge) {
    add(
      `${where}: a hugetlb VMA has a page-table entry (${formatPte(raw)}); it maps huge entries only`,
    );
    return;
  }
  const pfn = ptePfn(raw);
  const folio = pfnValid(mem, pfn) ? pfnFolio(mem, pfn) : -1;
  if (folio < 0 || folio !== pfn || !folioTestHugetlb(mem, folio)) {
    add(
      `${where}: the huge entry ${formatPte(raw)} of a hugetlb VMA is not the head of a hugetlb folio`,
    );
    return;
  }
  if (!ptePresent(raw) && !isMigrationEntry(raw)) {
    add(`${where}: unknown hugetlb entry 0x${raw.toString(16)}`);
    return;
  }
  if (folioTestAnon(mem, folio)) {
    const av = folioAnonVma(mem, folio);
    if (av === null || !vma.anonVmaChain.some((avc) => avc.anonVma === av)) {
      add(
        `${where}: anonymous hugetlb folio 0x${folio.toString(16)} cannot be found from the VMA's anon_vma chain`,
      );
    }
  } else {
    const as = folioAddressSpace(mem, folio);
    const replaced =
      as === null &&
      isMigrationEntry(raw) &&
      folioTestFlag(mem, folio, PG_locked) &&
      vma.file !== null &&
      (() => {
        const dst = vma.file.lookup(vmaHugecacheOffset(vma, addr));
        return dst !== undefined && dst !== folio && folioTestFlag(mem, dst, PG_locked);
      })();
    if (!replaced && as !== vma.file) {
      add(
        `${where}: hugetlb page-cache folio of ${String(as)} mapped by a VMA of ${String(vma.file)}`,
      );
    }
  }
  const expected = vmaHugecacheOffset(vma, addr);
  if (folioIndex(mem, folio) !== expected) {
    add(
      `${where}: hugetlb folio index ${folioIndex(mem, folio)} does not match the VMA's huge-page index ${expected}`,
    );
  }
  if (isMigrationEntry(raw)) {
    if (!folioTestFlag(mem, folio, PG_locked)) {
      add(
        `${where}: hugetlb migration entry to folio 0x${folio.toString(16)}, which is not locked`,
      );
    }
    return;
  }
  inc(counts.pmds, folio);
  inc(counts.refs, folio);
  if (pteWrite(raw) && folioTestAnon(mem, folio) && !pageTestFlag(mem, folio, PG_anon_exclusive)) {
    add(
      `${where}: anonymous hugetlb folio 0x${folio.toString(16)} is writable but not PageAnonExclusive`,
    );
  }
}
