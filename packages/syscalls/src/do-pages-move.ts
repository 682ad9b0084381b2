import {
  type Folio,
  FolioList,
  folioEntireMapcount,
  folioMapcount,
  folioNid,
  folioNrPages,
  folioPut,
  folioTestHugetlb,
  folioTestLarge,
  folioTryGet,
  nodeSpannedPages,
  pageMapcount,
  pfnFolio,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, type MigrationTargetControl, MR_SYSCALL } from '@mmsim/migrate';
import {
  type MmView,
  PAGE_SIZE,
  PTE_NONE,
  PTRS_PER_PTE,
  ptePfn,
  ptePresent,
  VM_IO,
  type VmaView,
} from '@mmsim/rmap';
import { EACCES, EBUSY, EEXIST, EFAULT, ENODEV, ENOENT, type KernelGen } from '@mmsim/runtime';

/*
 * The mm-level half of move_pages(2) (mm/migrate.c, Linux 6.12 for the call's structure;
 * the page lookup follows the variant's `movePagesLookup`): what the kernel does once
 * `kernel_move_pages` has found the target mm. Every function returns as the kernel's
 * do_* functions do: 0, a positive count, or -errno. The process and credential checks
 * before it are in move-pages.ts.
 */

/**
 * A user array argument of a system call, as the kernel reaches it: `get_user` /
 * `put_user` of one element. `get` returns undefined and `put` false when the access
 * faults (the array, or the part of it asked for, is not accessible).
 */
export interface UserArray {
  get(i: number): number | undefined;
  put(i: number, value: number): boolean;
}

/** `DO_PAGES_STAT_CHUNK_NR` (mm/migrate.c): query mode copies the arrays 16 entries at a time. */
export const DO_PAGES_STAT_CHUNK_NR = 16;

/** `NUMA_NO_NODE`: no batch is being gathered. */
const NO_NODE = -1;

/**
 * `vma_migratable(vma)` (mm/mempolicy.c, 6.12) as far as the model's VMAs go: not a
 * VM_IO (or VM_PFNMAP) mapping. DAX, hugetlb sizes without migration support and file
 * mappings whose gfp zone is below `policy_zone` do not exist in the model.
 */
export function vmaMigratable(vma: VmaView): boolean {
  return (vma.flags & VM_IO) === 0;
}

/**
 * The page `addr` of `vma` resolves to for move_pages(2), by the variant's
 * `movePagesLookup`: its pfn, or -EFAULT / -ENOENT.
 *
 * `'follow-page'`: `follow_page(vma, addr, FOLL_GET | FOLL_DUMP)` (mm/gup.c, 6.3): an
 * empty entry, a missing page table and a PMD migration entry go to `no_page_table`,
 * which with FOLL_DUMP is -EFAULT for an anonymous VMA (`vma_is_anonymous`: no file, so a
 * private anonymous mapping, not MAP_SHARED|MAP_ANONYMOUS, which is shmem) and NULL
 * (-ENOENT) otherwise; a PTE migration entry is NULL (-ENOENT); the zero page is
 * -EFAULT (FOLL_DUMP skips special pages).
 *
 * `'folio-walk'`: `folio_walk_start(&fw, vma, addr, FW_ZEROPAGE)` (mm/pagewalk.c, 6.12)
 * as `add_folio_for_migration` and `do_pages_stat_array` read it (7dff875c9436): no
 * present entry (empty, or a migration entry) is -ENOENT, the zero page -EFAULT.
 */
export function movePagesLookup(k: Kernel, vma: VmaView, addr: number): number {
  const mm = vma.mm;
  const vpn = Math.floor(addr / PAGE_SIZE);
  const idx = Math.floor(vpn / PTRS_PER_PTE);
  const followPage = k.variant.movePagesLookup === 'follow-page';
  const huge = mm.pmds.get(idx);
  let entry: number;
  let pfn: number;
  if (huge !== undefined && huge !== PTE_NONE) {
    entry = huge;
    if (!ptePresent(entry)) {
      // follow_pmd_mask: a PMD migration entry goes to no_page_table.
      if (followPage) return noPageTable(vma);
      return -ENOENT;
    }
    pfn = ptePfn(entry) + (vpn % PTRS_PER_PTE);
  } else {
    entry = mm.pageTables.get(idx)?.get(vpn) ?? PTE_NONE;
    if (entry === PTE_NONE) return followPage ? noPageTable(vma) : -ENOENT;
    if (!ptePresent(entry)) return -ENOENT; // a migration entry: follow_page_pte's NULL
    pfn = ptePfn(entry);
  }
  if (pfn === k.mem.zeroPfn) return -EFAULT;
  return pfn;
}

/** `no_page_table(vma, FOLL_DUMP)` (mm/gup.c, 6.3): -EFAULT for anonymous memory, else NULL. */
function noPageTable(vma: VmaView): number {
  return vma.isAnonymous ? -EFAULT : -ENOENT;
}

/**
 * `folio_likely_mapped_shared(folio)` (include/linux/mm.h, 6.12): a small or hugetlb
 * folio mapped more than once; a large one mapped more than once in all, and either
 * PMD-mapped, mapped more times than it has pages, or its first page mapped more than once.
 */
export function folioLikelyMappedShared(k: Kernel, folio: Folio): boolean {
  const mem = k.mem;
  const mapcount = folioMapcount(mem, folio);
  if (!folioTestLarge(mem, folio) || folioTestHugetlb(mem, folio)) return mapcount > 1;
  if (mapcount <= 1) return false;
  if (folioEntireMapcount(mem, folio) > 0 || mapcount > folioNrPages(mem, folio)) return true;
  return pageMapcount(mem, folio) > 1;
}

/**
 * `add_page_for_migration` (mm/migrate.c, 6.3) / `add_folio_for_migration` (6.12,
 * 7dff875c9436): under `mmap_read_lock`, resolve `addr` and queue its folio on `list` for
 * `node`. Returns 1 when queued, 0 when the folio is already on `node`, else -errno, in
 * this order: no VMA or a VMA that is not migratable -EFAULT; the lookup's -EFAULT /
 * -ENOENT (`movePagesLookup`); already on `node` 0; mapped shared without `migrateAll`
 * -EACCES (6.3: `page_mapcount(page) > 1` of the page the address resolves to; 6.12:
 * `folio_likely_mapped_shared`); a hugetlb folio `isolate_hugetlb` or -EBUSY (6.3 only
 * through its head page: another page keeps -EACCES); otherwise `folio_isolate_lru`
 * (NR_ISOLATED_* += its pages) or -EBUSY.
 *
 * 6.12 holds the page-table lock from the walk to the isolation and takes no reference;
 * the model takes the lookup reference of 6.3's FOLL_GET in both variants, for the
 * isolation only (see docs/model-vs-kernel.md).
 */
export function* addFolioForMigration(
  k: Kernel,
  mm: MmView,
  addr: number,
  node: number,
  list: FolioList,
  migrateAll: boolean,
): KernelGen<number> {
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('add_folio_for_migration');
  try {
    const vma = mm.vmaLookup(addr);
    if (vma === null || !vmaMigratable(vma)) return -EFAULT;
    const pfn = movePagesLookup(k, vma, addr);
    if (pfn < 0) return pfn;
    const mem = k.mem;
    const folio = pfnFolio(mem, pfn);
    if (folioNid(mem, folio) === node) return 0;
    const followPage = k.variant.movePagesLookup === 'follow-page';
    const shared = followPage ? pageMapcount(mem, pfn) > 1 : folioLikelyMappedShared(k, folio);
    if (shared && !migrateAll) return -EACCES;
    if (folioTestHugetlb(mem, folio)) {
      if (followPage && pfn !== folio) return -EACCES; // PageHead() false: err unchanged
      return k.migrate.isolateHugetlb(folio, list) ? 1 : -EBUSY;
    }
    if (!folioTryGet(mem, folio)) return -EBUSY;
    if (yield* k.lru.folioIsolateLru(folio)) {
      list.addTail(folio);
      k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
      folioPut(mem, folio); // the isolation holds its own reference
      return 1;
    }
    yield* k.lru.folioPut(folio);
    return -EBUSY;
  } finally {
    sem.upRead();
  }
}

/**
 * `do_move_pages_to_node(pagelist, node)` (mm/migrate.c, 6.12): `migrate_pages(pagelist,
 * alloc_migration_target, NULL, mtc, MIGRATE_SYNC, MR_SYSCALL)` with `mtc = { nid: node,
 * GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, MR_SYSCALL }`; what is left goes back with
 * `putback_movable_pages` after a failure. Returns `migrate_pages`' value: 0, the folios
 * not migrated, or -ENOMEM.
 */
export function* doMovePagesToNode(k: Kernel, list: FolioList, node: number): KernelGen<number> {
  const mtc: MigrationTargetControl = { nid: node, thisNode: true, reason: MR_SYSCALL };
  const { rc } = yield* k.migrate.migratePages(
    list,
    k.migrate.allocMigrationTarget,
    null,
    mtc,
    MIGRATE_SYNC,
    MR_SYSCALL,
  );
  if (rc !== 0) yield* k.migrate.putbackMovablePages(list);
  return rc;
}

/** `store_status(status, start, value, nr)` (mm/migrate.c): 0, or -EFAULT. */
function storeStatus(status: UserArray, start: number, value: number, nr: number): number {
  for (let i = start; i < start + nr; i++) if (!status.put(i, value)) return -EFAULT;
  return 0;
}

/**
 * `move_pages_and_store_status(node, pagelist, status, start, i, nr_pages)` (mm/migrate.c,
 * 6.12): migrate the gathered batch (entries `start` .. `i - 1`); on complete success
 * their status becomes `node`. A positive result (folios not migrated) has the entries
 * not yet attempted added, `nr_pages - i`, and no status is written: the call ends with
 * it.
 */
function* movePagesAndStoreStatus(
  k: Kernel,
  node: number,
  list: FolioList,
  status: UserArray,
  start: number,
  i: number,
  nrPages: number,
): KernelGen<number> {
  if (list.size === 0) return 0;
  let err = yield* doMovePagesToNode(k, list, node);
  if (err !== 0) {
    if (err > 0) err += nrPages - i;
    return err;
  }
  return storeStatus(status, start, node, i - start);
}

/**
 * The node checks of one `nodes[i]` in `do_pages_move` (6.12): 0, -ENODEV for a node
 * that is negative, not below MAX_NUMNODES or without memory (`N_MEMORY`; every node of
 * the model is online), -EACCES for one outside `taskNodes` (the target's
 * `cpuset_mems_allowed`).
 */
function checkNode(k: Kernel, node: number, taskNodes: readonly number[]): number {
  if (!Number.isInteger(node) || node < 0 || node >= k.nrNodes) return -ENODEV;
  if (nodeSpannedPages(k.mem, node) === 0) return -ENODEV;
  if (!taskNodes.includes(node)) return -EACCES;
  return 0;
}

/**
 * `do_pages_move(mm, task_nodes, nr_pages, pages, nodes, status, flags)` (mm/migrate.c,
 * 6.12), inside `lru_cache_disable()` / `lru_cache_enable()` (which drains every CPU's
 * LRU batches first, so that isolation sees every folio on its LRU):
 *
 * - for each entry in order: `get_user` of `pages[i]` and `nodes[i]` (-EFAULT), the node
 *   checks (`checkNode`: -ENODEV, -EACCES); each of these ends the call after the
 *   gathered batch is flushed (its own error is kept, whatever the flush gives);
 * - consecutive entries with the same node form a batch; a new node flushes the batch
 *   first (`move_pages_and_store_status`);
 * - `add_folio_for_migration`: queued (1) continues the batch; otherwise the entry's
 *   status is written at once (the node when already there, else the error, -EEXIST
 *   shown as -EFAULT) and the batch before it is flushed; a positive flush result ends
 *   the call with the entry itself taken off (it has its status);
 * - at the end the last batch is flushed.
 *
 * Returns 0, the number of pages not migrated (K-6: the failures of the failing batch
 * plus every entry after it), or -errno.
 */
export function* doPagesMove(
  k: Kernel,
  mm: MmView,
  taskNodes: readonly number[],
  nrPages: number,
  pages: UserArray,
  nodes: UserArray,
  status: UserArray,
  migrateAll: boolean,
): KernelGen<number> {
  let currentNode = NO_NODE;
  const list = new FolioList(k.mem);
  let start = 0;
  let err = 0;
  let i = 0;
  yield* k.lru.lruCacheDisable();
  try {
    for (; i < nrPages; i++) {
      const p = pages.get(i);
      const node = p === undefined ? undefined : nodes.get(i);
      if (p === undefined || node === undefined) {
        err = -EFAULT;
        break;
      }
      err = checkNode(k, node, taskNodes);
      if (err !== 0) break;
      if (currentNode === NO_NODE) {
        currentNode = node;
        start = i;
      } else if (node !== currentNode) {
        err = yield* movePagesAndStoreStatus(k, currentNode, list, status, start, i, nrPages);
        if (err !== 0) return err;
        start = i;
        currentNode = node;
      }
      err = yield* addFolioForMigration(k, mm, p, currentNode, list, migrateAll);
      if (err > 0) continue; // queued
      if (err === -EEXIST) err = -EFAULT;
      // A status that cannot be written ends the call with err as it is: the entry's own
      // error, or 0 (already on the node), which the flush's result then replaces.
      if (storeStatus(status, i, err !== 0 ? err : currentNode, 1) !== 0) break;
      err = yield* movePagesAndStoreStatus(k, currentNode, list, status, start, i, nrPages);
      if (err !== 0) {
        if (err > 0) err--; // entry i has its status already
        return err;
      }
      currentNode = NO_NODE;
    }
    // out_flush: what is gathered is migrated even when an error ends the call.
    const err1 = yield* movePagesAndStoreStatus(k, currentNode, list, status, start, i, nrPages);
    if (err >= 0) err = err1;
    return err;
  } finally {
    k.lru.lruCacheEnable();
  }
}

/**
 * `do_pages_stat_array(mm, nr_pages, pages, status)` (mm/migrate.c, 6.12): under one
 * `mmap_read_lock`, the node of each address's page, or -EFAULT (no VMA; the lookup's
 * -EFAULT) / -ENOENT. No `vma_migratable` check in query mode.
 */
export function* doPagesStatArray(
  k: Kernel,
  mm: MmView,
  nr: number,
  pages: ArrayLike<number>,
  status: Int32Array,
): KernelGen {
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('do_pages_stat_array');
  try {
    for (let j = 0; j < nr; j++) {
      const addr = pages[j]!;
      const vma = mm.vmaLookup(addr);
      if (vma === null) {
        status[j] = -EFAULT;
        continue;
      }
      const pfn = movePagesLookup(k, vma, addr);
      status[j] = pfn < 0 ? pfn : folioNid(k.mem, pfnFolio(k.mem, pfn));
    }
  } finally {
    sem.upRead();
  }
}

/**
 * `do_pages_stat(mm, nr_pages, pages, status)` (mm/migrate.c, 6.12), query mode: chunks
 * of DO_PAGES_STAT_CHUNK_NR entries, each copied in from `pages`, looked up
 * (`doPagesStatArray`) and copied out to `status`; a chunk that cannot be copied stops
 * the call. Returns 0, or -EFAULT when not every entry was done.
 */
export function* doPagesStat(
  k: Kernel,
  mm: MmView,
  nrPages: number,
  pages: UserArray,
  status: UserArray,
): KernelGen<number> {
  const chunkPages = new Array<number>(DO_PAGES_STAT_CHUNK_NR);
  const chunkStatus = new Int32Array(DO_PAGES_STAT_CHUNK_NR);
  let done = 0;
  chunks: while (done < nrPages) {
    const nr = Math.min(nrPages - done, DO_PAGES_STAT_CHUNK_NR);
    for (let j = 0; j < nr; j++) {
      const p = pages.get(done + j);
      if (p === undefined) break chunks;
      chunkPages[j] = p;
    }
    yield* doPagesStatArray(k, mm, nr, chunkPages, chunkStatus);
    for (let j = 0; j < nr; j++) if (!status.put(done + j, chunkStatus[j]!)) break chunks;
    done += nr;
  }
  return done < nrPages ? -EFAULT : 0;
}
