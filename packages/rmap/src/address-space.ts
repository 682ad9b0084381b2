import { type Folio, folioMapping, type PhysicalMemory } from '@mmsim/folio';
import { type KernelGen, type Runtime, RwSemaphore } from '@mmsim/runtime';
import type { HugetlbInode } from './hugetlb-state.js';
import { pageCacheReplaceFolio, pageCacheSplitFolio } from './page-cache.js';
import type { AddressSpaceView } from './readonly-views.js';
import type { ShmemHuge } from './shmem.js';
import type { Vma } from './vma.js';
/**
 * `struct address_space_operations` as rmap stores it: opaque but for its name. rmap never
 * calls it; the migrate core's `AddressSpaceOperations` extends it and sets it.
 */
export interface AddressSpaceOperationsBase {
  readonly name: string;
}

/**
 * A file's page cache and mappings (`struct address_space`, include/linux/fs.h, 6.3):
 * `i_pages` (page index -> folio; each cached folio holds one reference per page for the
 * cache and points back here through `folio->mapping`), `i_mmap` (the VMAs mapping the
 * file; the kernel's interval tree is a set here, filtered by page offset on a walk) and
 * `i_mmap_rwsem`. The object is what a page-cache folio's `mapping` points at, so
 * `folioMapping(mem, folio)` returns it.
 *
 * The file's data on "disk" is `backing`: one content word per page index, read into a
 * new page-cache folio on a miss (0 when never written). `shmem` marks the internal file
 * behind a shared anonymous mapping: its folios are swap-backed.
 */
export class AddressSpace implements AddressSpaceView {
  readonly id: number;
  readonly name: string;
  readonly shmem: boolean;
  /** `i_pages`: cached folios by page index; only the page-cache module stores into it. */
  readonly pages: ReadonlyMap<number, Folio> = new Map<number, Folio>();
  /** `i_mmap`: every VMA that maps this file. */
  readonly iMmap = new Set<Vma>();
  /** `i_mmap_rwsem`. */
  readonly iMmapRwsem: RwSemaphore;
  /** Content words of the file's pages on disk, by page index. */
  readonly backing = new Map<number, number>();
  /**
   * The anonymous shmem file behind a MAP_SHARED | MAP_ANONYMOUS mapping: it goes away
   * (its pages are truncated) when its last mapping does.
   */
  internal = false;
  /** shmem's `huge=` setting for this file (see shmem.ts); 'never' unless set. */
  huge: ShmemHuge = 'never';
  /** `i_size` in bytes, for `huge=within_size`. */
  size = 0;
  /**
   * `a_ops`: the file's address-space operations, or null for the default of its kind
   * (the migrate core's `setAddressSpaceOperations` sets it).
   */
  aops: AddressSpaceOperationsBase | null = null;
  /**
   * `mapping_can_writeback()` (its backing device has BDI_CAP_WRITEBACK), or null for the
   * default: false for shmem, true otherwise.
   */
  canWriteback: boolean | null = null;
  /** A hugetlbfs inode's state (`createFile(name, { hugetlb: true })`, MAP_HUGETLB), else null. */
  hugetlb: HugetlbInode | null = null;

  constructor(rt: Runtime, id: number, name: string, shmem: boolean) {
    this.id = id;
    this.name = name;
    this.shmem = shmem;
    this.iMmapRwsem = new RwSemaphore(rt, `i_mmap_rwsem ${name}`);
  }

  /** `mapping->nrpages`: cached pages (a large folio has a slot per page). */
  get nrPages(): number {
    return this.pages.size;
  }

  /**
   * `filemap_get_folio` without the reference: the folio caching page `index` (a large
   * folio from any of its indices), or undefined.
   */
  lookup(index: number): Folio | undefined {
    return this.pages.get(index);
  }

  /** `folio_migrate_mapping`'s store of `dst` in place of `src` (see `pageCacheReplaceFolio`). */
  replaceFolio(src: Folio, dst: Folio, index: number, nrPages: number): void {
    pageCacheReplaceFolio(this, src, dst, index, nrPages);
  }

  /**
   * The `xas_split` / per-tail `__xa_store` of a large page-cache folio's split: each
   * order-0 piece takes the slot of its own index (see `pageCacheSplitFolio`).
   */
  splitEntry(mem: PhysicalMemory, folio: Folio, index: number, nrPages: number): void {
    pageCacheSplitFolio(mem, this, folio, index, nrPages);
  }

  toString(): string {
    return this.name;
  }
}

/**
 * Whether `mapping` (a folio's `mapping`, say) is an rmap address space: the check that
 * the migrate core and the kernel make before reading `a_ops` or `i_mmap` of it.
 */
export function isAddressSpace(mapping: unknown): mapping is AddressSpaceView {
  return mapping instanceof AddressSpace;
}

/**
 * The AddressSpace a page-cache folio belongs to (`folio_mapping`), or null for anonymous,
 * movable and unmapped folios, or a mapping that is not an rmap AddressSpace.
 */
export function folioAddressSpace(mem: PhysicalMemory, folio: Folio): AddressSpace | null {
  const obj = folioMapping(mem, folio);
  return obj instanceof AddressSpace ? obj : null;
}

/**
 * `folioAddressSpace` as other packages receive it: the same function, typed to hand out
 * the read-only view, so that only rmap changes the page cache and `i_mmap`.
 */
export const folioAddressSpaceView: (mem: PhysicalMemory, folio: Folio) => AddressSpaceView | null =
  folioAddressSpace;

/** `i_mmap_lock_write(mapping)` (include/linux/fs.h, 6.3), trylock first. */
export function* iMmapLockWrite(as: AddressSpace, caller: string): KernelGen {
  const sem = as.iMmapRwsem;
  if (!sem.downWriteTrylock()) yield* sem.downWrite(caller);
}
