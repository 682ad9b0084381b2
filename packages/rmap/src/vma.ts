import type { AddressSpace } from './address-space.js';
import type { AnonVma, AnonVmaChain } from './anon-vma.js';
import {
  PAGE_SIZE,
  VM_GROWSDOWN,
  VM_MAYWRITE,
  VM_SHARED,
  VM_STACK_INCOMPLETE_SETUP,
  VM_WRITE,
} from './constants.js';
import type { Mempolicy } from './mempolicy.js';
import type { Mm } from './mm.js';

import type { VmaView } from './readonly-views.js';
/**
 * The short form of a mapping's policy that `mmap` accepts: `MPOL_BIND` (only that node)
 * or `MPOL_PREFERRED` (that node first, then the others by distance), as one `mbind` at
 * mmap time would set it. Without a policy a fault allocates by the task's policy, else
 * on the faulting CPU's node, falling back to the others (`MPOL_LOCAL`, the default).
 */
export interface MemPolicy {
  readonly mode: 'bind' | 'preferred';
  readonly node: number;
}

/**
 * A virtual memory area (`struct vm_area_struct`, include/linux/mm_types.h, 6.3):
 * `[start, end)` of one mm with its `vm_flags`, `vm_pgoff`, the file it maps (or none for
 * anonymous memory), its anon_vma and the chain of anon_vmas whose pages it may map.
 */
export class Vma implements VmaView {
  readonly mm: Mm;
  /** `vm_start`. */
  start: number;
  /** `vm_end` (exclusive). */
  end: number;
  /** `vm_flags` (VM_*). */
  flags: number;
  /** `vm_pgoff`: file offset of `start` in pages, or `start >> PAGE_SHIFT` for anonymous. */
  pgoff: number;
  /** `vm_file->f_mapping`, or null for anonymous memory. */
  readonly file: AddressSpace | null;
  /** `anon_vma`: where this VMA's new (exclusive) anonymous pages are filed. */
  anonVma: AnonVma | null = null;
  /** `anon_vma_chain` (the `same_vma` list), newest first. */
  readonly anonVmaChain: AnonVmaChain[] = [];
  /**
   * `vm_policy`: the VMA's memory policy (given at mmap time, changed by mbind), or null
   * for none (the task's policy applies).
   */
  policy: Mempolicy | null;

  constructor(
    mm: Mm,
    start: number,
    end: number,
    flags: number,
    pgoff: number,
    file: AddressSpace | null,
    policy: Mempolicy | null,
  ) {
    this.mm = mm;
    this.start = start;
    this.end = end;
    this.flags = flags;
    this.pgoff = pgoff;
    this.file = file;
    this.policy = policy;
  }

  /** `vma_pages`. */
  get nrPages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }

  /** `vma_last_pgoff`. */
  get lastPgoff(): number {
    return this.pgoff + this.nrPages - 1;
  }

  /** `vma_is_anonymous`: no file behind it. */
  get isAnonymous(): boolean {
    return this.file === null;
  }

  /** `is_cow_mapping(vm_flags)`: `(vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE`. */
  get isCow(): boolean {
    return (this.flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
  }

  /** `linear_page_index(vma, address)`. */
  linearPageIndex(addr: number): number {
    return Math.floor((addr - this.start) / PAGE_SIZE) + this.pgoff;
  }

  /**
   * `vma_address(page, vma)` for a page index: where `pgoff` is mapped in this VMA, or -1
   * when this VMA does not cover it (the kernel's -EFAULT).
   */
  addressOf(pgoff: number): number {
    if (pgoff < this.pgoff || pgoff > this.lastPgoff) return -1;
    return this.start + (pgoff - this.pgoff) * PAGE_SIZE;
  }

  /** `vma_is_temporary_stack` (include/linux/mm.h, 6.3). */
  get isTemporaryStack(): boolean {
    if ((this.flags & VM_GROWSDOWN) === 0) return false;
    return (this.flags & VM_STACK_INCOMPLETE_SETUP) === VM_STACK_INCOMPLETE_SETUP;
  }

  /** Whether writes are allowed (`VM_WRITE`). */
  get writable(): boolean {
    return (this.flags & VM_WRITE) !== 0;
  }

  toString(): string {
    return `${this.mm.name} vma [0x${this.start.toString(16)}, 0x${this.end.toString(16)})`;
  }
}
