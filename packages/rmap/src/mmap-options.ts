import type { AddressSpaceView } from './readonly-views.js';
import type { MemPolicy } from './vma.js';

/** Arguments of `mmap`. */
export interface MmapOptions {
  /** Bytes; rounded up to whole pages. */
  readonly length: number;
  /** A page-aligned address: a hint, or the place with MAP_FIXED. */
  readonly addr?: number;
  /** PROT_* bits; default PROT_READ | PROT_WRITE. */
  readonly prot?: number;
  /** MAP_* bits; default MAP_PRIVATE | MAP_ANONYMOUS. */
  readonly flags?: number;
  /** The file to map (without MAP_ANONYMOUS). */
  readonly file?: AddressSpaceView;
  /** Page offset in the file; default 0. */
  readonly pgoff?: number;
  /** Memory policy of the mapping (`mbind` at mmap time); default none (the task's). */
  readonly policy?: MemPolicy;
  /**
   * MADV_HUGEPAGE (VM_HUGEPAGE): faults of a private anonymous mapping may map THPs; a
   * shared anonymous (shmem) mapping may get shmem THPs under shmem_enabled 'advise' or
   * 'within_size'.
   */
  readonly hugepage?: boolean;
}
