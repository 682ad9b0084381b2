import type { Folio, PhysicalMemory } from '@mmsim/folio';
import { folioIndex, folioTestHugetlb, HPAGE_PMD_ORDER } from '@mmsim/folio';
import { Mutex, RwSemaphore } from '@mmsim/runtime';
import { PMD_SHIFT, VM_HUGETLB, VM_MAYSHARE } from './constants.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * The hugetlb side of the virtual memory (mm/hugetlb.c, fs/hugetlbfs/inode.c, Linux 6.3)
 * for the 2 MiB hstate: what a hugetlbfs inode, a hugetlb VMA and the fault path keep.
 *
 * - `HugetlbInode`: `i_size` in huge pages and the inode's `resv_map` (the region map of
 *   shared mappings: an index is in it when a reservation was made for it, consumed or
 *   not).
 * - `HugetlbVmaPrivate`: a VMA's `vm_private_data`. A private mapping that reserved its
 *   pages (HPAGE_RESV_OWNER) keeps the indices still reserved and not yet faulted in (the
 *   kernel keeps the complement, the indices consumed, in a resv_map of the VMA; the
 *   count is the same). A shared mapping has its `hugetlb_vma_lock` (6.1+, "hugetlb: add
 *   vma based lock for pmd sharing", 8d9bfb260814).
 * - `HugetlbLifecycle`: how a hugetlb folio joins and leaves `h->hugepage_activelist` and
 *   gets HPageMigratable, which @mmsim/migrate keeps (`HugetlbState`); the kernel
 *   composes it.
 *
 * A hugetlb folio's `index` is in huge pages (6.3 `hugetlb_add_to_page_cache` and
 * `linear_page_index` of a hugetlb VMA, `linear_hugepage_index`); `folio_pgoff` turns it
 * into a page offset for the rmap walks (until 6.7: "mm/filemap: remove hugetlb special
 * casing in filemap.c" moved hugetlb to PAGE_SIZE indices).
 */

/** Huge pages are PMD-sized. */
export const HPAGE_SHIFT = PMD_SHIFT;
export const HPAGE_SIZE = 1 << HPAGE_SHIFT;
/** `huge_page_order(h)`. */
export const HUGETLB_ORDER = HPAGE_PMD_ORDER;

/** What a hugetlbfs inode keeps. */
export class HugetlbInode {
  /** `i_size >> huge_page_shift(h)`: faults at or past it get SIGBUS. */
  size = 0;
  /** The inode's `resv_map`: huge-page indices reserved by shared mappings (or MAP_HUGETLB setup). */
  readonly resvMap = new Set<number>();
}

/** A hugetlb VMA's `vm_private_data`. */
export class HugetlbVmaPrivate {
  /** HPAGE_RESV_OWNER: this private mapping made the reservations in `resv`. */
  readonly owner: boolean;
  /**
   * Private owner: huge-page indices (file offsets) still reserved and not yet faulted in.
   * Shared by the VMAs a split makes of the mapping (the kernel's kref on the resv_map).
   */
  readonly resv: Set<number>;
  /** `hugetlb_vma_lock` of a VM_MAYSHARE mapping (taken for read by faults), else null. */
  readonly vmaLock: RwSemaphore | null;

  constructor(owner: boolean, resv: Set<number>, vmaLock: RwSemaphore | null) {
    this.owner = owner;
    this.resv = resv;
    this.vmaLock = vmaLock;
  }
}

/**
 * How hugetlb folios in use are tracked by the migration side (`h->hugepage_activelist`,
 * HPageMigratable), given to `VirtualMemory.setHugetlbLifecycle` by the composition.
 */
export interface HugetlbLifecycle {
  /** `alloc_hugetlb_folio`'s `list_add(&folio->lru, &h->hugepage_activelist)`. */
  folioActivate(folio: Folio): void;
  /** `folio_set_hugetlb_migratable`: a new folio is instantiated and may be isolated. */
  folioSetMigratable(folio: Folio): void;
  /**
   * `free_huge_page`'s bookkeeping before the last reference goes: off the active list,
   * HPageMigratable cleared.
   */
  folioFreeing(folio: Folio): void;
}

/** The hugetlb state of one VirtualMemory. */
export class HugetlbRmap {
  lifecycle: HugetlbLifecycle | null = null;
  /**
   * `hugetlb_fault_mutex_table`: `nrFaultMutexes` mutexes, each made on first use (most
   * explored machines never fault a hugetlb page, and every machine has this state: the
   * virtual memory is handed the hugetlb lifecycle as it is built). Their footprint ids
   * are taken here, two a mutex, as when they were all made here: footprints and so DPOR
   * searches are the same.
   */
  #faultMutexes: Array<Mutex | undefined> | null = null;
  /** `num_fault_mutexes`. */
  readonly nrFaultMutexes: number;
  readonly #firstMutexId: number;
  #vmas: WeakMap<Vma, HugetlbVmaPrivate> | null = null;
  readonly #rt: RmapState['rt'];

  constructor(ctx: RmapState) {
    this.#rt = ctx.rt;
    // hugetlb_init: num_fault_mutexes = roundup_pow_of_two(8 * num_possible_cpus()).
    let n = 1;
    while (n < 8 * ctx.rt.cpus.length) n <<= 1;
    this.nrFaultMutexes = n;
    this.#firstMutexId = ctx.rt.newObjectId();
    for (let i = 1; i < 2 * n; i++) ctx.rt.newObjectId();
  }

  /** `hugetlb_fault_mutex_hash(mapping, idx)`. */
  faultMutex(fileId: number, idx: number): Mutex {
    const h = (Math.imul(fileId, 0x9e3779b1) ^ Math.imul(idx + 1, 0x85ebca6b)) >>> 0;
    return this.faultMutexAt(h & (this.nrFaultMutexes - 1));
  }

  /** Mutex `i` of `hugetlb_fault_mutex_table`. */
  faultMutexAt(i: number): Mutex {
    let table = this.#faultMutexes;
    if (table === null) {
      table = new Array<Mutex | undefined>(this.nrFaultMutexes);
      this.#faultMutexes = table;
    }
    let mutex = table[i];
    if (mutex === undefined) {
      mutex = new Mutex(this.#rt, `hugetlb_fault_mutex ${i}`, this.#firstMutexId + 2 * i);
      table[i] = mutex;
    }
    return mutex;
  }

  /** The VMA's private data (created on first use: a VMA made by the model before mmap set it). */
  vmaPrivate(vma: Vma): HugetlbVmaPrivate {
    let priv = this.#vmas?.get(vma);
    if (priv === undefined) {
      priv = this.newPrivate(vma, false, new Set());
      this.#vmaTable().set(vma, priv);
    }
    return priv;
  }

  /** Sets up `vm_private_data` of a new hugetlb VMA. */
  setVmaPrivate(vma: Vma, owner: boolean, resv: Set<number>): HugetlbVmaPrivate {
    const priv = this.newPrivate(vma, owner, resv);
    this.#vmaTable().set(vma, priv);
    return priv;
  }

  /** The VMAs' private data, by VMA: a table made with its first entry. */
  #vmaTable(): WeakMap<Vma, HugetlbVmaPrivate> {
    let table = this.#vmas;
    if (table === null) {
      table = new WeakMap();
      this.#vmas = table;
    }
    return table;
  }

  newPrivate(vma: Vma, owner: boolean, resv: Set<number>): HugetlbVmaPrivate {
    const lock =
      (vma.flags & VM_MAYSHARE) !== 0
        ? new RwSemaphore(this.#rt, `hugetlb_vma_lock ${vma.mm.name} 0x${vma.start.toString(16)}`)
        : null;
    return new HugetlbVmaPrivate(owner, resv, lock);
  }
}

/** The hugetlb state of `ctx`, created on first use. */
export function hugetlbOf(ctx: RmapState): HugetlbRmap {
  let h = ctx.hugetlb;
  if (h === null) {
    h = new HugetlbRmap(ctx);
    ctx.hugetlb = h;
  }
  return h;
}

/** `is_vm_hugetlb_page(vma)`. */
export function isVmHugetlbPage(vma: { readonly flags: number }): boolean {
  return (vma.flags & VM_HUGETLB) !== 0;
}

/**
 * `folio_pgoff(folio)` (include/linux/pagemap.h, 6.3): the page offset of a folio's first
 * page, `hugetlb_basepage_index` for a hugetlb folio (its index is in huge pages).
 */
export function folioPgoff(mem: PhysicalMemory, folio: Folio): number {
  const index = folioIndex(mem, folio);
  return folioTestHugetlb(mem, folio) ? index * (1 << HUGETLB_ORDER) : index;
}

/**
 * `vma_hugecache_offset(h, vma, address)` (mm/hugetlb.c, 6.3), which is also
 * `linear_page_index` of a hugetlb VMA: the huge-page index in the file.
 */
export function vmaHugecacheOffset(vma: Vma, address: number): number {
  return Math.floor((address - vma.start) / HPAGE_SIZE) + Math.floor(vma.pgoff / 512);
}
