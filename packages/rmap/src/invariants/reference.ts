import {
  type Folio,
  folioEntireMapcount,
  folioIndex,
  folioMapcount,
  folioNrPages,
  folioOrder,
  folioRefCount,
  folioTestAnon,
  folioTestFlag,
  folioTestHugetlb,
  folioTestKsm,
  HPAGE_PMD_ORDER,
  nodeSpannedPages,
  nodeStartPfn,
  PG_anon_exclusive,
  PG_locked,
  pageMapcount,
  pageTestFlag,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { type AddressSpace, folioAddressSpace } from '../address-space.js';
import type { AnonVma } from '../anon-vma.js';
import { folioAnonVma } from '../anon-vma.js';
import { GUP_PIN_COUNTING_BIAS, NR_MM_COUNTERS, PAGE_SIZE, PTRS_PER_PTE } from '../constants.js';
import { checkHugetlbEntry, isHugetlbEntry } from '../hugetlb-invariants.js';
import type { RmapCheckOptions } from '../invariants.js';
import { checkKsm, checkKsmFolio, checkKsmMapping, folioStableNode } from '../ksm.js';
import type { Mm } from '../mm.js';
import {
  formatPte,
  isMigrationEntry,
  pteHwPresent,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteWrite,
} from '../pte.js';
import type { RmapState } from '../rmap-state.js';
import { tlbFlushedBeforeUse } from '../tlb.js';
import { entryAt } from '../view.js';
import { mmCounter } from '../vm-fault.js';
import type { Vma } from '../vma.js';

const MAX_PROBLEMS = 50;

class Problems {
  readonly list: string[] = [];
  dropped = 0;
  add(message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(message);
    else this.dropped++;
  }
}

interface Counts {
  /** PTE mappings per pfn. */
  readonly ptes: Map<number, number>;
  /** PMD mappings per folio. */
  readonly pmds: Map<Folio, number>;
  /** Page-table references per folio (one per PTE or PMD). */
  readonly refs: Map<Folio, number>;
}

function inc(map: Map<number, number>, key: number, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * A migration entry to a page-cache folio that a successful migration has already
 * replaced, waiting for `remove_migration_ptes(src, dst)` to reach it. In mm/migrate.c
 * (6.3 `migrate_folio_move`; 6.2 `__unmap_and_move` the same), `move_to_new_folio` has
 * `folio_migrate_mapping` put dst into `i_pages` in src's place and then sets
 * `src->mapping = NULL` before `remove_migration_ptes(src, dst)` walks the VMAs (through
 * dst's mapping, `rmap_walk_file`), one VMA at a time, with both folios locked until the
 * walk ends (`folio_unlock(dst)`, then `folio_unlock(src)`). Other tasks run in between,
 * so the VMAs not yet walked still hold migration entries to a src without a mapping.
 *
 * Accepted only in exactly that state: a migration entry (not a present PTE: nothing maps
 * a page-cache folio that lost its mapping), to a locked src that is not anonymous and has
 * no mapping, while the VMA's file caches at src's index another, locked folio. A folio
 * truncated or never inserted, a present PTE, or an unlocked dst is still reported.
 */
function isReplacedMigrationSource(
  mem: RmapState['mem'],
  vma: Vma,
  folio: Folio,
  pfn: number,
  addr: number,
  raw: number,
): boolean {
  if (vma.file === null || !isMigrationEntry(raw)) return false;
  if (!folioTestFlag(mem, folio, PG_locked) || folioTestAnon(mem, folio)) return false;
  const dst = vma.file.lookup(vma.linearPageIndex(addr) - (pfn - folio));
  return dst !== undefined && dst !== folio && folioTestFlag(mem, dst, PG_locked);
}

/** Where a mapping is, for a problem's message. */
function whereOf(vma: Vma, addr: number, pfn: number): string {
  return `${vma.mm} ${hex(addr)} (pfn ${hex(pfn)})`;
}

/** The rmap must be able to find this mapping: anon_vma chain or i_mmap, and the index. */
function checkReachable(
  ctx: RmapState,
  vma: Vma,
  folio: Folio,
  pfn: number,
  addr: number,
  raw: number,
  bad: Problems,
): void {
  const mem = ctx.mem;
  // Formatted only for a problem: this runs for every mapped entry on every check.
  if (folioTestKsm(mem, folio)) {
    // Found through the stable node's rmap_items, at any address (see checkKsmMapping); a
    // migration entry to a locked src that folio_migrate_ksm already left without a node
    // waits for remove_migration_ptes of dst, as for a page-cache src above.
    const problem = checkKsmMapping(ctx, vma, folio, addr);
    const movedSrc =
      isMigrationEntry(raw) &&
      folioTestFlag(mem, folio, PG_locked) &&
      folioStableNode(mem, folio) === null;
    if (problem !== null && !movedSrc) bad.add(`${whereOf(vma, addr, pfn)}: ${problem}`);
    return;
  }
  if (folioTestAnon(mem, folio)) {
    const av = folioAnonVma(mem, folio);
    if (av === null)
      bad.add(`${whereOf(vma, addr, pfn)}: anonymous folio ${hex(folio)} has no anon_vma`);
    else if (!vma.anonVmaChain.some((avc) => avc.anonVma === av)) {
      bad.add(
        `${whereOf(vma, addr, pfn)}: the VMA is not chained to ${av}, so rmap cannot find this mapping`,
      );
    }
  } else {
    const as = folioAddressSpace(mem, folio);
    if (as === null && isReplacedMigrationSource(mem, vma, folio, pfn, addr, raw)) {
      // Legal mid-migration state, see isReplacedMigrationSource; the index check below
      // still applies (move_to_new_folio leaves src->index alone).
    } else if (as === null || as !== vma.file) {
      bad.add(
        `${whereOf(vma, addr, pfn)}: page-cache folio of ${String(as)} mapped by a VMA of ${String(vma.file)}`,
      );
    }
  }
  const expected = folioIndex(mem, folio) + (pfn - folio);
  if (vma.linearPageIndex(addr) !== expected) {
    bad.add(
      `${whereOf(vma, addr, pfn)}: page index ${expected} does not match the VMA's ${vma.linearPageIndex(addr)}`,
    );
  }
}

function checkEntry(
  ctx: RmapState,
  mm: Mm,
  vpn: number,
  raw: number,
  huge: boolean,
  counts: Counts,
  rss: Float64Array,
  bad: Problems,
): void {
  const mem = ctx.mem;
  const addr = vpn * PAGE_SIZE;
  const vma = mm.vmaLookup(addr);
  if (vma === null) {
    bad.add(`${mm} ${hex(addr)}: ${formatPte(raw)} outside every VMA`);
    return;
  }
  if (isHugetlbEntry(ctx, vma, raw)) {
    checkHugetlbEntry(ctx, mm, vma, addr, raw, huge, counts, (m) => bad.add(m));
    return;
  }
  const pfn = ptePfn(raw);
  if (ptePresent(raw) && pfn === mem.zeroPfn) {
    if (pteWrite(raw)) bad.add(`${mm} ${hex(addr)}: the zero page is mapped writable`);
    return;
  }
  const folio = pfnValid(mem, pfn) ? pfnFolio(mem, pfn) : -1;
  if (folio < 0) {
    bad.add(`${mm} ${hex(addr)}: ${formatPte(raw)} points at a frame that is not a live folio`);
    return;
  }
  const nr = huge ? PTRS_PER_PTE : 1;
  if (huge && (folio !== pfn || folioOrder(mem, folio) < HPAGE_PMD_ORDER)) {
    bad.add(`${mm} ${hex(addr)}: a huge PMD maps pfn ${hex(pfn)}, not the head of a THP`);
    return;
  }
  rss[mmCounter(mem, folio)]! += nr;
  checkReachable(ctx, vma, folio, pfn, addr, raw, bad);
  if (isMigrationEntry(raw)) {
    if (!folioTestFlag(mem, folio, PG_locked)) {
      bad.add(`${mm} ${hex(addr)}: migration entry to folio ${hex(folio)}, which is not locked`);
    }
    return;
  }
  if (!ptePresent(raw)) {
    bad.add(`${mm} ${hex(addr)}: unknown entry ${hex(raw)}`);
    return;
  }
  if (huge) inc(counts.pmds, folio);
  else inc(counts.ptes, pfn);
  inc(counts.refs, folio);
  if (pteWrite(raw) && folioTestAnon(mem, folio) && !pageTestFlag(mem, pfn, PG_anon_exclusive)) {
    bad.add(`${mm} ${hex(addr)}: anonymous page ${hex(pfn)} is writable but not PageAnonExclusive`);
  }
}

function checkMm(ctx: RmapState, mm: Mm, counts: Counts, bad: Problems): void {
  let prevEnd = -1;
  for (const vma of mm.vmas) {
    if (vma.start % PAGE_SIZE !== 0 || vma.end % PAGE_SIZE !== 0 || vma.start >= vma.end) {
      bad.add(`${vma}: bad bounds`);
    }
    if (vma.start < prevEnd) bad.add(`${vma}: overlaps the VMA before it`);
    prevEnd = vma.end;
    if (vma.mm !== mm) bad.add(`${vma} is in the list of ${mm}`);
    for (const avc of vma.anonVmaChain) {
      if (avc.vma !== vma) bad.add(`${vma}: a chain link of another VMA`);
      if (avc.anonVma.freed) bad.add(`${vma}: chained to freed ${avc.anonVma}`);
      if (!avc.anonVma.rbRoot.has(avc)) bad.add(`${vma}: ${avc.anonVma} does not list it`);
    }
    if (vma.anonVma !== null && !vma.anonVmaChain.some((avc) => avc.anonVma === vma.anonVma)) {
      bad.add(`${vma}: not chained to its own ${vma.anonVma}`);
    }
    if (vma.file !== null && !vma.file.iMmap.has(vma)) bad.add(`${vma}: missing from i_mmap`);
  }
  const rss = new Float64Array(NR_MM_COUNTERS);
  for (const [idx, table] of mm.pageTables) {
    if (mm.pmds.has(idx)) bad.add(`${mm}: PMD ${idx} has both a page table and a huge entry`);
    let used = 0;
    for (let i = 0; i < PTRS_PER_PTE; i++) {
      const raw = table.ptes[i]!;
      if (raw === 0) continue;
      used++;
      checkEntry(ctx, mm, idx * PTRS_PER_PTE + i, raw, false, counts, rss, bad);
    }
    if (used !== table.used)
      bad.add(`${mm}: page table ${idx} counts ${table.used} entries, has ${used}`);
  }
  // A PTE try_to_migrate_one has cleared, its migration entry not yet set (the unmap
  // window, under the page-table lock): the page is still counted as mapped there.
  for (const p of ctx.unmapPending) {
    if (p.mm !== mm) continue;
    const table = mm.pageTables.get(Math.floor(p.vpn / PTRS_PER_PTE));
    if (table !== undefined && table.ptes[p.vpn % PTRS_PER_PTE] === 0) {
      checkEntry(ctx, mm, p.vpn, p.pte, false, counts, rss, bad);
    }
  }
  for (const [idx, raw] of mm.pmds) {
    if (raw === 0) bad.add(`${mm}: PMD ${idx} left invalid`);
    else checkEntry(ctx, mm, idx * PTRS_PER_PTE, raw, true, counts, rss, bad);
  }
  for (let i = 0; i < NR_MM_COUNTERS; i++) {
    if (rss[i] !== mm.rss[i])
      bad.add(`${mm}: rss counter ${i} is ${mm.rss[i]}, entries say ${rss[i]}`);
  }
}

function checkTlbs(mm: Mm, bad: Problems): void {
  mm.tlb.forEach((tlb, cpu) => {
    // x86 lets a CPU that is lazy or has switched away keep entries a flush skipped; they
    // go before the CPU next runs a task of the mm (switch_mm_irqs_off's tlb_gen check).
    if (tlb === undefined || tlbFlushedBeforeUse(mm, cpu)) return;
    for (const [vpn, e] of tlb) {
      const { raw, level } = entryAt(mm, vpn);
      const pfn = ptePfn(raw) + (level === 'pmd' ? vpn % PTRS_PER_PTE : 0);
      // A PROT_NONE entry may still be cached as it was while the flush of the change that
      // made it PROT_NONE is pending (mm->tlb_flush_pending, what pte_accessible tests).
      const legal = pteHwPresent(raw)
        ? pfn === e >>> 2 && ((e & 2) === 0 || pteWrite(raw))
        : pteProtnone(raw) && mm.tlbFlushPending > 0 && pfn === e >>> 2;
      if (!legal) {
        bad.add(
          `CPU ${cpu} caches ${mm} ${hex(vpn * PAGE_SIZE)} -> pfn ${hex(e >>> 2)}${(e & 2) !== 0 ? ' writable' : ''}, but the page table says ${formatPte(raw)} (a missing TLB flush)`,
        );
      }
    }
  });
}

/**
 * The anon_vma side (mm/rmap.c, 6.3). `num_active_vmas` counts the VMAs whose
 * `vma->anon_vma` points at the anon_vma (`anon_vma_clone` / `anon_vma_fork` /
 * `__anon_vma_prepare` add one, `unlink_anon_vmas` takes it away). A VMA leaves its mm
 * before it leaves the anon_vma: munmap detaches the VMAs (`do_vmi_munmap`), then
 * `unmap_region` -> `free_pgtables` -> `unlink_anon_vmas` takes the anon_vma lock, and may
 * sleep on it; `exit_mmap` does the same for every VMA. So the VMAs counted are those of
 * the live mms and those still chained in an anon_vma tree, detached or not. An anon_vma
 * reached only from a VMA no mm lists any more is not checked until it is unlinked.
 */
function checkAnonVmas(ctx: RmapState, bad: Problems): void {
  const vmas = new Set<Vma>();
  const seen = new Set<AnonVma>();
  for (const mm of ctx.mms) {
    for (const vma of mm.vmas) {
      vmas.add(vma);
      for (const avc of vma.anonVmaChain) seen.add(avc.anonVma);
    }
  }
  for (const av of seen) for (const avc of av.rbRoot) vmas.add(avc.vma);
  const active = new Map<AnonVma, number>();
  for (const vma of vmas) {
    if (vma.anonVma !== null) active.set(vma.anonVma, (active.get(vma.anonVma) ?? 0) + 1);
  }
  for (const av of seen) {
    const n = active.get(av) ?? 0;
    if (av.numActiveVmas !== n)
      bad.add(`${av}: num_active_vmas ${av.numActiveVmas}, but ${n} VMAs use it`);
    if (av.root.root !== av.root) bad.add(`${av}: its root ${av.root} is not a root`);
    if (av.refcount < 1) bad.add(`${av}: chained with refcount ${av.refcount}`);
  }
}

/**
 * The slots of one file's page cache (mm/filemap.c, 6.3: a folio of n pages is a
 * multi-index entry, every one of its n indices holding it). Each slot must hold a live
 * folio of this file whose range covers the slot's index; each folio must fill every slot
 * of its range (a slot missing or holding another folio is reported from both sides). A
 * hugetlbfs folio, indexed in huge pages, has one slot. Adds to `cached` the cache's
 * references of each folio: one per page (one for hugetlb), counted once per folio.
 */
function checkPageCache(
  mem: RmapState['mem'],
  as: AddressSpace,
  cached: Map<Folio, number>,
  bad: Problems,
): void {
  for (const [index, folio] of as.pages) {
    const live = pfnValid(mem, folio) && pfnFolio(mem, folio) === folio;
    if (!live) {
      bad.add(`${as.name}: index ${index} caches ${hex(folio)}, which is not a live folio`);
      continue;
    }
    const first = folioIndex(mem, folio);
    const hugetlb = folioTestHugetlb(mem, folio);
    const nr = hugetlb ? 1 : folioNrPages(mem, folio);
    if (folioAddressSpace(mem, folio) !== as || index < first || index >= first + nr) {
      bad.add(`${as.name}: folio ${hex(folio)} at index ${index} has another mapping or index`);
      continue;
    }
    if (index !== first) continue;
    for (let i = 1; i < nr; i++) {
      const slot = as.pages.get(index + i);
      if (slot !== folio) {
        bad.add(
          `${as.name}: index ${index + i} is inside folio ${hex(folio)} (indices ${index}..${index + nr - 1}) but its slot holds ${slot === undefined ? 'nothing' : hex(slot)}`,
        );
      }
    }
    inc(cached, folio, nr);
  }
}

/**
 * The rmap check as it was written first (maps and sets per check, one closure per chain
 * test): `checkRmap` computes the same problems, in the same order, with reusable
 * per-pfn counters. Kept for the differential tests that compare the two at every step of
 * explored schedules; not used by the model.
 */
export function checkRmapReference(ctx: RmapState, options: RmapCheckOptions = {}): string[] {
  const mem = ctx.mem;
  const bad = new Problems();
  const counts: Counts = { ptes: new Map(), pmds: new Map(), refs: new Map() };
  for (const mm of ctx.mms) checkMm(ctx, mm, counts, bad);
  checkAnonVmas(ctx, bad);
  checkKsm(ctx, (problem) => bad.add(problem));
  const cached = new Map<Folio, number>();
  for (const as of ctx.files) checkPageCache(mem, as, cached, bad);
  const pins = new Map<Folio, number>();
  for (const mm of ctx.mms) {
    for (const [pfn, n] of mm.pins) {
      const folio = pfn === mem.zeroPfn ? pfn : pfnFolio(mem, pfn);
      inc(pins, folio, folioOrder(mem, folio) > 0 ? n : n * GUP_PIN_COUNTING_BIAS);
    }
  }
  // Node by node: the frames between one node's end and the next node's start are holes
  // (checked by folio's checkPhysicalMemory), so the walk jumps over them.
  let nid = 0;
  let nodeEnd = nodeStartPfn(mem, 0) + nodeSpannedPages(mem, 0);
  for (let pfn = 0; pfn < mem.maxPfn; pfn++) {
    if (pfn >= nodeEnd) {
      if (++nid >= mem.nrNodes) break;
      pfn = nodeStartPfn(mem, nid);
      nodeEnd = pfn + nodeSpannedPages(mem, nid);
    }
    if (!pfnValid(mem, pfn) || pfnFolio(mem, pfn) !== pfn || pfn === mem.zeroPfn) continue;
    const entire = folioEntireMapcount(mem, pfn);
    if (entire !== (counts.pmds.get(pfn) ?? 0)) {
      bad.add(
        `folio ${hex(pfn)}: entire mapcount ${entire}, PMDs mapping it ${counts.pmds.get(pfn) ?? 0}`,
      );
    }
    const total = folioMapcount(mem, pfn);
    const nr = 1 << folioOrder(mem, pfn);
    if (total > 0 || counts.refs.has(pfn)) {
      for (let i = 0; i < nr; i++) {
        const own = pageMapcount(mem, pfn + i) - entire;
        const found = counts.ptes.get(pfn + i) ?? 0;
        if (own !== found)
          bad.add(`pfn ${hex(pfn + i)}: mapcount ${own}, PTEs mapping it ${found}`);
      }
    }
    if (counts.refs.has(pfn) && folioTestKsm(mem, pfn)) {
      const problem = checkKsmFolio(mem, pfn);
      if (problem !== null) bad.add(problem);
    }
    const needed = (counts.refs.get(pfn) ?? 0) + (cached.get(pfn) ?? 0) + (pins.get(pfn) ?? 0);
    if (folioRefCount(mem, pfn) < needed) {
      bad.add(
        `folio ${hex(pfn)}: refcount ${folioRefCount(mem, pfn)} below the ${needed} its mappings, cache and pins hold`,
      );
    }
  }
  if (options.quiescent === true) {
    for (const mm of ctx.mms) checkTlbs(mm, bad);
    // A batch the kernel's own code leaves pending (leaveTlbBatchPending) is legal; its
    // stale entries, if any, are what checkTlbs reports.
    for (const [task, batch] of ctx.batches) {
      if (batch.flushRequired && batch.leftPendingBy === null)
        bad.add(`${task} has a deferred TLB flush pending (try_to_unmap_flush)`);
    }
  }
  const out = bad.list;
  if (bad.dropped > 0) out.push(`... and ${bad.dropped} more problems`);
  return out;
}
