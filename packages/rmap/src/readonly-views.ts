import type { Folio } from '@mmsim/folio';
import type { RwSemaphore } from '@mmsim/runtime';
import type { AddressSpaceOperationsBase } from './address-space.js';
import type { Mempolicy } from './mempolicy.js';
import type { ShmemHuge } from './shmem.js';

/**
 * What other packages may read of rmap's objects. `VirtualMemory` hands out and accepts
 * these; the classes behind them (`Mm`, `Vma`, `AddressSpace`, `AnonVma`...) are rmap's, and only rmap
 * changes them. Type-level only: the objects are the classes themselves, so reading costs
 * nothing more.
 */

/** A process's address space (`struct mm_struct`), read-only. */
export interface MmView {
  readonly id: number;
  readonly name: string;
  /** The VMAs, sorted by start, never overlapping. */
  readonly vmas: readonly VmaView[];
  /** Last-level page tables by PMD index. */
  readonly pageTables: ReadonlyMap<number, PageTableView>;
  /** PMD-level entries by PMD index. */
  readonly pmds: ReadonlyMap<number, number>;
  /** `mmap_lock`. */
  readonly mmapLock: RwSemaphore;
  /**
   * How many CPUs are set in `mm_cpumask`: CPUs that have this mm loaded, running a task
   * of it or lazily under a kernel thread (x86: a CPU leaves the mask when it switches to
   * another mm).
   */
  readonly cpusInMask: number;
  /** FOLL_PIN pins taken through this mm and not yet released, by pfn. */
  readonly pins: ReadonlyMap<number, number>;
  /** `MMF_HAS_PINNED`. */
  readonly hasPinned: boolean;
  /** False once exit_mmap has run. */
  readonly alive: boolean;
  /** `find_vma`: the first VMA that ends above `addr`, or null. */
  findVma(addr: number): VmaView | null;
  /** `vma_lookup`: the VMA containing `addr`, or null. */
  vmaLookup(addr: number): VmaView | null;
}

/** One last-level page table (`PageTable`), read-only. */
export interface PageTableView {
  /** The first virtual address it maps. */
  readonly base: number;
  /** The 512 encoded PTEs (see `formatPte`). */
  readonly ptes: ArrayLike<number>;
  /** The PTE of virtual page `vpn`. */
  get(vpn: number): number;
}

/** A virtual memory area (`struct vm_area_struct`), read-only. */
export interface VmaView {
  readonly mm: MmView;
  /** `vm_start`. */
  readonly start: number;
  /** `vm_end` (exclusive). */
  readonly end: number;
  /** `vm_flags` (VM_*). */
  readonly flags: number;
  /** `vm_pgoff`. */
  readonly pgoff: number;
  /** `vm_file->f_mapping`, or null for anonymous memory. */
  readonly file: AddressSpaceView | null;
  /** `anon_vma`. */
  readonly anonVma: AnonVmaView | null;
  /** `anon_vma_chain`, newest first. */
  readonly anonVmaChain: readonly AnonVmaChainView[];
  /** `vm_policy`: the memory policy (mmap time or mbind), or null. */
  readonly policy: Mempolicy | null;
  readonly nrPages: number;
  readonly lastPgoff: number;
  readonly isAnonymous: boolean;
  readonly isCow: boolean;
  readonly isTemporaryStack: boolean;
  readonly writable: boolean;
  /** `linear_page_index(vma, address)`. */
  linearPageIndex(addr: number): number;
  /** `vma_address` for a page index, or -1. */
  addressOf(pgoff: number): number;
}

/** A file's page cache and mappings (`struct address_space`), read-only. */
export interface AddressSpaceView {
  readonly id: number;
  readonly name: string;
  readonly shmem: boolean;
  /** `i_pages`: cached folios by page index. */
  readonly pages: ReadonlyMap<number, Folio>;
  /** `i_mmap`: every VMA that maps this file. */
  readonly iMmap: ReadonlySet<VmaView>;
  /** `i_mmap_rwsem`. */
  readonly iMmapRwsem: RwSemaphore;
  /** Content words of the file's pages on disk, by page index. */
  readonly backing: ReadonlyMap<number, number>;
  /** The anonymous shmem file behind a MAP_SHARED | MAP_ANONYMOUS mapping. */
  readonly internal: boolean;
  /** `a_ops`, or null for the default of its kind (set with `mappingSetAops`). */
  readonly aops: AddressSpaceOperationsBase | null;
  /** `mapping_can_writeback()`, or null for the default (set with `mappingSetCanWriteback`). */
  readonly canWriteback: boolean | null;
  /** `mapping->nrpages`: cached pages (a large folio has a slot per page). */
  readonly nrPages: number;
  /** A hugetlbfs file: its size in huge pages; its folios are cached at huge-page indices. */
  readonly hugetlb: { readonly size: number } | null;
  /**
   * shmem's `huge=` setting for this file (`SHMEM_SB(inode->i_sb)->huge`, see shmem.ts);
   * 'never' for files that are not shmem.
   */
  readonly huge: ShmemHuge;
  /** `i_size` in bytes, as `within_size` reads it (the length of a shared anonymous mapping). */
  readonly size: number;
  /** The folio in the slot at `index` (a large folio in each of its slots), or undefined. */
  lookup(index: number): Folio | undefined;
}

/** An anon_vma (`struct anon_vma`), read-only: a handle for `folio_get_anon_vma` / `put_anon_vma`. */
export interface AnonVmaView {
  readonly id: number;
  /** The root of its tree (itself for a root). */
  readonly root: AnonVmaView;
  /** The anon_vma of the parent process's VMA at fork (itself for a root). */
  readonly parent: AnonVmaView;
  /** `refcount`. */
  readonly refcount: number;
  /** `num_children`. */
  readonly numChildren: number;
  /** `num_active_vmas`. */
  readonly numActiveVmas: number;
  /** `rb_root`: the chains of every VMA that may map pages of this anon_vma. */
  readonly rbRoot: ReadonlySet<AnonVmaChainView>;
  /** Set once the last reference is put. */
  readonly freed: boolean;
  /** `anon_vma->root->rwsem`. */
  readonly rwsem: RwSemaphore;
}

/** An anon_vma_chain (`struct anon_vma_chain`), read-only: one VMA linked to one anon_vma. */
export interface AnonVmaChainView {
  readonly vma: VmaView;
  readonly anonVma: AnonVmaView;
}
