import { type Folio, folioNrPages, folioTestAnon, folioTestKsm } from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { folioAddressSpace } from './address-space.js';
import { folioAnonVma } from './anon-vma.js';
import { PAGE_SIZE, PTRS_PER_PTE } from './constants.js';
import { folioPgoff } from './hugetlb-state.js';
import { folioStableNode } from './ksm.js';
import type { Mm } from './mm.js';
import { pmdIndexOfVpn, vpnOf } from './page-table.js';
import {
  isMigrationEntry,
  migrationEntryType,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_WRITE,
  PTE_YOUNG,
  ptePfn,
  ptePresent,
  SWP_MIG_DIRTY,
  SWP_MIG_YOUNG,
  SWP_MIGRATION_READ_EXCLUSIVE,
  SWP_MIGRATION_WRITE,
  SWP_SOFT_DIRTY,
} from './pte.js';
import type { MmView, VmaView } from './readonly-views.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';
import { folioVmaRange } from './vma-address.js';

/** What maps one virtual page: a decoded PTE (or the PMD entry covering it). */
export interface PteView {
  readonly kind: 'none' | 'present' | 'migration';
  /** 'pmd' when a huge PMD entry covers the page. */
  readonly level: 'pte' | 'pmd';
  /** The raw entry (see `formatPte`). */
  readonly raw: number;
  /** The page's pfn (for a PMD entry: the head pfn plus the page's offset); -1 for none. */
  readonly pfn: number;
  readonly write: boolean;
  readonly dirty: boolean;
  readonly young: boolean;
  readonly softDirty: boolean;
  /** The migration entry's kind, or null. */
  readonly migration: 'writable' | 'readable-exclusive' | 'readable' | null;
}

/** Decodes an entry covering `vpn`; `offset` is the page's index within a PMD mapping. */
export function decodeEntry(raw: number, level: 'pte' | 'pmd', offset: number): PteView {
  if (raw === 0) {
    return {
      kind: 'none',
      level,
      raw,
      pfn: -1,
      write: false,
      dirty: false,
      young: false,
      softDirty: false,
      migration: null,
    };
  }
  const pfn = ptePfn(raw) + offset;
  if (ptePresent(raw)) {
    return {
      kind: 'present',
      level,
      raw,
      pfn,
      write: (raw & PTE_WRITE) !== 0,
      dirty: (raw & PTE_DIRTY) !== 0,
      young: (raw & PTE_YOUNG) !== 0,
      softDirty: (raw & PTE_SOFT_DIRTY) !== 0,
      migration: null,
    };
  }
  const type = migrationEntryType(raw);
  return {
    kind: 'migration',
    level,
    raw,
    pfn,
    write: false,
    dirty: (raw & SWP_MIG_DIRTY) !== 0,
    young: (raw & SWP_MIG_YOUNG) !== 0,
    softDirty: (raw & SWP_SOFT_DIRTY) !== 0,
    migration:
      type === SWP_MIGRATION_WRITE
        ? 'writable'
        : type === SWP_MIGRATION_READ_EXCLUSIVE
          ? 'readable-exclusive'
          : 'readable',
  };
}

/** The raw entry covering virtual page `vpn` of `mm`, and its level. */
export function entryAt(mm: Mm, vpn: number): { raw: number; level: 'pte' | 'pmd' } {
  const idx = pmdIndexOfVpn(vpn);
  const pmdv = mm.pmds.get(idx);
  if (pmdv !== undefined) return { raw: pmdv, level: 'pmd' };
  return { raw: mm.pageTables.get(idx)?.get(vpn) ?? 0, level: 'pte' };
}

function outsideVmas(mm: Mm, addr: number): MmsimError {
  return new MmsimError(
    'INVALID_ARGUMENT',
    `address ${Number.isFinite(addr) ? `0x${addr.toString(16)}` : String(addr)} is outside every VMA of ${mm}`,
  );
}

/**
 * The entry mapping `addr` in `mm`, decoded (a lock-free read for inspection). An address
 * outside every VMA throws INVALID_ARGUMENT; a hole in a VMA is `kind: 'none'`.
 */
export function lookupPte(mm: Mm, addr: number): PteView {
  if (!Number.isInteger(addr) || mm.vmaLookup(addr) === null) throw outsideVmas(mm, addr);
  const vpn = vpnOf(addr);
  const { raw, level } = entryAt(mm, vpn);
  return decodeEntry(
    raw,
    level,
    level === 'pmd' && isPresentOrMigration(raw) ? vpn % PTRS_PER_PTE : 0,
  );
}

function isPresentOrMigration(raw: number): boolean {
  return ptePresent(raw) || isMigrationEntry(raw);
}

/**
 * The pfn of the page a present entry maps at `addr` in `mm` (the `pfn` of a present
 * `lookupPte(mm, addr)`), or -1 when none or a migration entry is there; without building
 * the decoded view (a selector or `follow_page` runs once per folio). Throws as
 * `lookupPte` for an address outside every VMA.
 */
export function presentPfnAt(mm: Mm, addr: number): number {
  if (!Number.isInteger(addr) || mm.vmaLookup(addr) === null) throw outsideVmas(mm, addr);
  const vpn = vpnOf(addr);
  const idx = pmdIndexOfVpn(vpn);
  const pmdv = mm.pmds.get(idx);
  if (pmdv !== undefined) {
    return pmdv !== 0 && ptePresent(pmdv) ? ptePfn(pmdv) + (vpn % PTRS_PER_PTE) : -1;
  }
  const table = mm.pageTables.get(idx);
  const raw = table === undefined ? 0 : table.get(vpn);
  return raw !== 0 && ptePresent(raw) ? ptePfn(raw) : -1;
}

/**
 * `follow_page` for inspection: the pfn mapped at `addr`. Throws INVALID_ARGUMENT when the
 * address is outside every VMA, or not mapped by a present entry (never touched, or
 * under migration).
 */
export function followPage(mm: Mm, addr: number): number {
  const pfn = presentPfnAt(mm, addr);
  if (pfn >= 0) return pfn;
  const view = lookupPte(mm, addr);
  if (view.kind !== 'present') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `address 0x${addr.toString(16)} of ${mm} is not mapped (${view.kind === 'none' ? 'no page there yet' : 'a migration entry'})`,
    );
  }
  return view.pfn;
}

/** One place a folio is mapped (or held by a migration entry). */
export interface FolioMapping {
  readonly mm: MmView;
  readonly vma: VmaView;
  readonly address: number;
  readonly entry: PteView;
}

/**
 * Every present mapping and migration entry of `folio`'s pages, found through its rmap
 * (the anon_vma tree or the file's i_mmap), without taking locks: for inspection and
 * tests, between steps.
 */
export function folioMappings(ctx: RmapState, folio: Folio): FolioMapping[] {
  const mem = ctx.mem;
  const nr = folioNrPages(mem, folio);
  const pgoff = folioPgoff(mem, folio);
  const vmas: Vma[] = [];
  if (folioTestKsm(mem, folio)) return ksmFolioMappings(ctx, folio);
  if (folioTestAnon(mem, folio)) {
    const av = folioAnonVma(mem, folio);
    if (av !== null) for (const avc of av.rbRoot) vmas.push(avc.vma);
  } else {
    const as = folioAddressSpace(mem, folio);
    if (as !== null) vmas.push(...as.iMmap);
  }
  const out: FolioMapping[] = [];
  for (const vma of vmas) {
    const range = folioVmaRange(vma, pgoff, nr);
    if (range === null) continue;
    for (let vpn = range.startVpn; vpn < range.endVpn; vpn++) {
      const { raw, level } = entryAt(vma.mm, vpn);
      if (!isPresentOrMigration(raw)) continue;
      const offset = level === 'pmd' ? vpn % PTRS_PER_PTE : 0;
      const pfn = ptePfn(raw) + offset;
      if (pfn - folio < 0 || pfn - folio >= nr) continue;
      out.push({
        mm: vma.mm,
        vma,
        address: vpn * PAGE_SIZE,
        entry: decodeEntry(raw, level, offset),
      });
    }
  }
  return out;
}

/**
 * `folioMappings` of a KSM folio: every present or migration entry of it at the address of
 * one of its stable node's rmap_items, in each VMA chained to the item's anon_vma (the
 * item's mm and forked children), as `rmap_walk_ksm` finds them. Lock-free, for tests.
 */
function ksmFolioMappings(ctx: RmapState, folio: Folio): FolioMapping[] {
  const out: FolioMapping[] = [];
  const node = folioStableNode(ctx.mem, folio);
  if (node === null) return out;
  const seen = new Set<string>();
  for (const item of node.hlist) {
    if (item.anonVma === null) continue;
    for (const avc of item.anonVma.rbRoot) {
      const vma = avc.vma;
      const addr = item.address;
      if (addr < vma.start || addr >= vma.end) continue;
      const key = `${vma.mm.id}:${addr}`;
      if (seen.has(key)) continue;
      const vpn = Math.floor(addr / PAGE_SIZE);
      const { raw, level } = entryAt(vma.mm, vpn);
      if (!(ptePresent(raw) || isMigrationEntry(raw)) || ptePfn(raw) !== folio) continue;
      seen.add(key);
      out.push({ mm: vma.mm, vma, address: addr, entry: decodeEntry(raw, level, 0) });
    }
  }
  return out;
}
