/**
 * Kernel constants of the rmap side of mmsim, with their Linux 6.3 values (x86-64, 4 KiB
 * pages, 4-level page tables).
 */

/** `PAGE_SHIFT`. */
export const PAGE_SHIFT = 12;
/** `PAGE_SIZE`: 4 KiB. */
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** `PTRS_PER_PTE`: PTEs in one page table (one page table maps one PMD: 2 MiB). */
export const PTRS_PER_PTE = 512;
/** `PMD_SHIFT`. */
export const PMD_SHIFT = 21;
/** `PMD_SIZE` = `HPAGE_PMD_SIZE`: 2 MiB. */
export const PMD_SIZE = 1 << PMD_SHIFT;
/** Highest user address + 1 (`TASK_SIZE` with 4-level paging: 128 TiB minus a guard page). */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;

/* enum ttu_flags (include/linux/rmap.h, 6.3). */

/** Split a PMD-mapped THP into PTEs first (freezing them into migration entries). */
export const TTU_SPLIT_HUGE_PMD = 0x4;
/** Ignore mlock (try_to_unmap only; migration always ignores it). */
export const TTU_IGNORE_MLOCK = 0x8;
/** Wait for racing page-table updates (PVMW_SYNC). */
export const TTU_SYNC = 0x10;
/** Installing hwpoison entries (try_to_unmap only). */
export const TTU_HWPOISON = 0x20;
/** Defer the TLB flush to `try_to_unmap_flush` (the batch of the current task). */
export const TTU_BATCH_FLUSH = 0x40;
/** The caller already holds the rmap lock (anon_vma rwsem or i_mmap_rwsem). */
export const TTU_RMAP_LOCKED = 0x80;
/** The flags `try_to_migrate` accepts; any other one makes it WARN and return. */
export const TTU_MIGRATE_ALLOWED =
  TTU_RMAP_LOCKED | TTU_SPLIT_HUGE_PMD | TTU_SYNC | TTU_BATCH_FLUSH;

/* rmap_t (include/linux/rmap.h, 6.3). */

export const RMAP_NONE = 0;
/** The page is mapped exclusively (sets PageAnonExclusive). */
export const RMAP_EXCLUSIVE = 1;
/** The whole folio is mapped by one PMD. */
export const RMAP_COMPOUND = 2;

/* vm_flags (include/linux/mm.h, 6.3); only the bits the model uses or checks. */

export const VM_NONE = 0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_LOCKED = 0x2000;
/** `VM_UFFD_WP`: registered with userfaultfd in write-protect mode (UFFDIO_REGISTER_MODE_WP). */
export const VM_UFFD_WP = 0x1000;
/** `VM_IO`: in the model only `mlock_vma_pages_range`'s marker (a VM_SPECIAL bit). */
export const VM_IO = 0x4000;
export const VM_SEQ_READ = 0x8000;
export const VM_RAND_READ = 0x10000;
export const VM_HUGEPAGE = 0x2000_0000;
/** `VM_NOHUGEPAGE`: MADV_NOHUGEPAGE, never a THP in this VMA. */
export const VM_NOHUGEPAGE = 0x4000_0000;
/** `VM_NORESERVE`: no hugetlb reservation was made (MAP_NORESERVE). */
export const VM_NORESERVE = 0x0020_0000;
/** `VM_HUGETLB`: a hugetlbfs mapping (MAP_HUGETLB or a hugetlbfs file). */
export const VM_HUGETLB = 0x0040_0000;
/**
 * `VM_SOFTDIRTY` (x86-64 with CONFIG_MEM_SOFT_DIRTY, 6.3): set on every new VMA by
 * `mmap_region`; while set, /proc/PID/pagemap reports every page of the VMA soft-dirty.
 * `clear_refs` (writing 4) clears it.
 */
export const VM_SOFTDIRTY = 0x0800_0000;
/** exec's temporary stack (`vma_is_temporary_stack`): VM_SEQ_READ | VM_RAND_READ on a stack. */
export const VM_STACK_INCOMPLETE_SETUP = VM_RAND_READ | VM_SEQ_READ;

/* mmap(2) arguments (include/uapi/asm-generic/mman-common.h, x86-64). */

export const PROT_NONE = 0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
/** `PROT_SEM` (x86 accepts it in `arch_validate_prot` and ignores it). */
export const PROT_SEM = 0x8;
/** `PROT_GROWSDOWN`: mprotect extends the change down to the start of a VM_GROWSDOWN VMA. */
export const PROT_GROWSDOWN = 0x0100_0000;
/** `PROT_GROWSUP`: x86 has no VM_GROWSUP, so mprotect with it is always -EINVAL. */
export const PROT_GROWSUP = 0x0200_0000;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
/** `MAP_HUGETLB`: back the mapping with hugetlb pages of the default (2 MiB) size. */
export const MAP_HUGETLB = 0x40000;
/** The mmap flags the model accepts. */
export const MAP_SUPPORTED =
  MAP_SHARED |
  MAP_PRIVATE |
  MAP_FIXED |
  MAP_ANONYMOUS |
  MAP_GROWSDOWN |
  MAP_LOCKED |
  MAP_NORESERVE |
  MAP_HUGETLB;

/* enum vm_fault_reason (include/linux/mm_types.h, 6.3). */

export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_MAJOR = 0x000004;
export const VM_FAULT_SIGSEGV = 0x000040;
export const VM_FAULT_NOPAGE = 0x000100;
export const VM_FAULT_LOCKED = 0x000200;
export const VM_FAULT_RETRY = 0x000400;
export const VM_FAULT_FALLBACK = 0x000800;
/** VM_FAULT_SIGSEGV because no VMA contains the address (a model-only reason bit). */
export const VM_FAULT_SIGSEGV_NO_VMA = VM_FAULT_SIGSEGV | 0x1_0000;
/** VM_FAULT_SIGSEGV because the VMA forbids the access (a model-only reason bit). */
export const VM_FAULT_SIGSEGV_ACCESS = VM_FAULT_SIGSEGV | 0x2_0000;
/** Faults that end the access (the task would get a signal). */
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV;

/* enum fault_flag (include/linux/mm_types.h, 6.3). */

export const FAULT_FLAG_WRITE = 1 << 0;
export const FAULT_FLAG_USER = 1 << 6;
export const FAULT_FLAG_REMOTE = 1 << 7;
/** Break COW for a read-only pin (GUP's unshare) without making the PTE writable. */
export const FAULT_FLAG_UNSHARE = 1 << 10;

/* GUP pins (include/linux/mm.h, 6.3). */

/** Each FOLL_PIN on an order-0 folio adds this many references (`GUP_PIN_COUNTING_BIAS`). */
export const GUP_PIN_COUNTING_BIAS = 1 << 10;

/* mm->tlb_flush_batched (mm/rmap.c, 6.3). */

/** Bits 16-30 hold the flushed generation. */
export const TLB_FLUSH_BATCH_FLUSHED_SHIFT = 16;
/** Bits 0-14 hold the pending generation. */
export const TLB_FLUSH_BATCH_PENDING_MASK = (1 << (TLB_FLUSH_BATCH_FLUSHED_SHIFT - 1)) - 1;
/** Past this, the pending generation restarts at 1 (and flushed at 0). */
export const TLB_FLUSH_BATCH_PENDING_LARGE = TLB_FLUSH_BATCH_PENDING_MASK >> 1;

/* arch/x86/mm/tlb.c (6.3). */

/** `tlb_single_page_flush_ceiling`: above this many pages a range flush flushes everything. */
export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33;
/** `TLB_FLUSH_ALL` as the tlb_flush tracepoint prints it. */
export const TLB_FLUSH_ALL = -1;

/* enum tlb_flush_reason (include/linux/mm_types.h, 6.3). */

export const TLB_FLUSH_ON_TASK_SWITCH = 0;
export const TLB_REMOTE_SHOOTDOWN = 1;
export const TLB_LOCAL_SHOOTDOWN = 2;
export const TLB_LOCAL_MM_SHOOTDOWN = 3;
export const TLB_REMOTE_SEND_IPI = 4;

/* enum rss counters (include/linux/mm_types_task.h, 6.3). */

export const MM_FILEPAGES = 0;
export const MM_ANONPAGES = 1;
export const MM_SWAPENTS = 2;
export const MM_SHMEMPAGES = 3;
export const NR_MM_COUNTERS = 4;

/* madvise(2) advice values (include/uapi/asm-generic/mman-common.h, 6.3). */

export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_MERGEABLE = 12;
export const MADV_UNMERGEABLE = 13;
export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;
export const MADV_DONTDUMP = 16;
export const MADV_DODUMP = 17;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
export const MADV_COLD = 20;
export const MADV_PAGEOUT = 21;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;
export const MADV_DONTNEED_LOCKED = 24;
export const MADV_COLLAPSE = 25;
export const MADV_HWPOISON = 100;
export const MADV_SOFT_OFFLINE = 101;

/* mremap(2) flags (include/uapi/linux/mman.h, 6.3). */

export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;
