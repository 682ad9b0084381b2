import { MmsimError } from '@mmsim/runtime';
import { AddressSpace } from './address-space.js';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SUPPORTED,
  PAGE_SIZE,
  PMD_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_HUGEPAGE,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_WRITE,
} from './constants.js';
import { hugetlbMmap } from './hugetlb-mmap.js';
import { HugetlbInode } from './hugetlb-state.js';
import { Mm } from './mm.js';
import type { MmapOptions } from './mmap-options.js';
import { mmapPolicyOf } from './mmap-policy.js';
import type { RmapState } from './rmap-state.js';
import { type MemPolicy, Vma } from './vma.js';

/** Where mappings without an address start (x86-64 puts them below 0x7fxx_xxxx_xxxx). */
export const DEFAULT_MMAP_BASE = 0x7f00_0000_0000;

export type { MmapOptions } from './mmap-options.js';

function invalid(message: string): MmsimError {
  return new MmsimError('INVALID_ARGUMENT', `mmap: ${message}`);
}

/** Creates an empty address space (`mm_alloc`) and registers it. */
export function createMm(ctx: RmapState, name: string | undefined): Mm {
  const id = ++ctx.mmIds;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new MmsimError('INVALID_ARGUMENT', 'a process name must be a non-empty string');
  }
  // Its page tables take their slots from the machine's buffers (recycled per schedule).
  const mm = new Mm(ctx.rt, id, name ?? `proc${id}`, DEFAULT_MMAP_BASE, ctx.mem);
  ctx.mms.add(mm);
  return mm;
}

/** Creates a file (its address space and page cache), with optional initial content words. */
export function createFile(
  ctx: RmapState,
  name: string,
  content: readonly number[] | undefined,
  shmem: boolean,
  hugetlb = false,
): AddressSpace {
  if (typeof name !== 'string' || name.length === 0) {
    throw new MmsimError('INVALID_ARGUMENT', 'a file name must be a non-empty string');
  }
  // Plain loops over the words (no callback a file): checked first, then copied. `forEach`
  // skips the holes of a sparse array; so do these.
  const n = content === undefined ? 0 : content.length;
  for (let i = 0; i < n; i++) {
    if (!(i in content!)) continue;
    if (!Number.isFinite(content![i])) {
      throw new MmsimError('INVALID_ARGUMENT', `content[${i}] must be a finite number`);
    }
  }
  if (hugetlb && n > 0) {
    throw new MmsimError('INVALID_ARGUMENT', 'a hugetlbfs file has no initial content');
  }
  const as = new AddressSpace(ctx.rt, ++ctx.fileIds, name, shmem);
  if (hugetlb) as.hugetlb = new HugetlbInode();
  const backing = as.backing;
  for (let i = 0; i < n; i++) if (i in content!) backing.set(i, content![i] as number);
  ctx.files.add(as);
  return as;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function rangeFree(mm: Mm, start: number, end: number): boolean {
  const vma = mm.findVma(start);
  return vma === null || vma.start >= end;
}

/** `get_unmapped_area`: the lowest free range of `len` bytes from the mm's base, aligned. */
function unmappedArea(mm: Mm, len: number, align: number): number {
  let start = alignUp(mm.mmapBase, align);
  for (const vma of mm.vmas) {
    if (vma.end <= start) continue;
    if (vma.start >= start + len) break;
    start = alignUp(vma.end, align);
  }
  if (start + len > TASK_SIZE) throw invalid(`no room for ${len} bytes below TASK_SIZE`);
  return start;
}

function checkPolicy(ctx: RmapState, policy: MemPolicy | undefined): void {
  if (policy === undefined) return;
  if (typeof policy !== 'object' || policy === null) throw invalid('policy must be an object');
  if (policy.mode !== 'bind' && policy.mode !== 'preferred') {
    throw invalid(`policy.mode must be 'bind' or 'preferred', got ${String(policy.mode)}`);
  }
  if (!Number.isInteger(policy.node) || policy.node < 0 || policy.node >= ctx.mem.nrNodes) {
    throw invalid(
      `policy.node must be a node in [0, ${ctx.mem.nrNodes - 1}], got ${String(policy.node)}`,
    );
  }
}

/**
 * `mmap(addr, length, prot, flags, fd, pgoff)` (mm/mmap.c `do_mmap` + `mmap_region`,
 * 6.3), as an atomic step: validate, place, and insert a VMA with `calc_vm_prot_bits` /
 * `calc_vm_flag_bits` flags (VM_MAY* included; MAP_SHARED gives VM_SHARED | VM_MAYSHARE,
 * MAP_LOCKED VM_LOCKED, MAP_GROWSDOWN VM_GROWSDOWN), plus VM_SOFTDIRTY as `mmap_region` sets
 * on every new VMA. A private anonymous mapping has
 * `vm_pgoff = start >> PAGE_SHIFT`; a shared anonymous one is backed by a new shmem file
 * (`shmem_zero_setup`). A file mapping joins the file's i_mmap. Nothing is populated:
 * pages come on first touch.
 *
 * The model does not merge VMAs, and MAP_FIXED over an existing mapping is refused
 * (munmap it first) rather than replacing it. mmap runs without sleeping, so it throws
 * CONTRACT_VIOLATION when a task holds the mm's mmap_lock or the file's i_mmap_rwsem;
 * call it before the run or from a task when those are free. Bad arguments throw
 * INVALID_ARGUMENT and change nothing. Returns the start address.
 *
 * MAP_HUGETLB, or a hugetlbfs file, goes to `hugetlbMmap` (hugetlb-mmap.ts), which
 * returns the kernel's -EINVAL / -ENOMEM for what hugetlb refuses (misaligned MAP_FIXED
 * or file offset, a reservation the pool cannot cover).
 */
export function mmap(ctx: RmapState, mm: Mm, options: MmapOptions): number {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `mmap: ${mm} has exited`);
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const { length, addr, file } = options;
  const prot = options.prot ?? PROT_READ | PROT_WRITE;
  const flags = options.flags ?? MAP_PRIVATE | MAP_ANONYMOUS;
  const pgoffArg = options.pgoff ?? 0;
  const hugepage = options.hugepage ?? false;
  if (!Number.isInteger(length) || length <= 0 || length > TASK_SIZE) {
    throw invalid(`length must be a positive integer up to 2^47, got ${String(length)}`);
  }
  if (!Number.isInteger(prot) || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) {
    throw invalid(`prot must be PROT_READ | PROT_WRITE | PROT_EXEC bits, got ${String(prot)}`);
  }
  if (!Number.isInteger(flags) || (flags & ~MAP_SUPPORTED) !== 0) {
    throw invalid(`flags 0x${Number(flags).toString(16)} has bits the model does not support`);
  }
  const shared = (flags & MAP_SHARED) !== 0;
  if (shared === ((flags & MAP_PRIVATE) !== 0)) {
    throw invalid('flags must have exactly one of MAP_SHARED and MAP_PRIVATE');
  }
  const anonymous = (flags & MAP_ANONYMOUS) !== 0;
  if (anonymous && file !== undefined) throw invalid('MAP_ANONYMOUS with a file');
  if (!anonymous) {
    if (!(file instanceof AddressSpace) || !ctx.files.has(file)) {
      throw invalid('a file mapping needs a file created by this VirtualMemory (or MAP_ANONYMOUS)');
    }
    if (!Number.isInteger(pgoffArg) || pgoffArg < 0) {
      throw invalid(`pgoff must be a non-negative integer, got ${String(pgoffArg)}`);
    }
    if (file.iMmapRwsem.holders().length > 0) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `mmap: ${file.iMmapRwsem.name} is held; mmap cannot wait`,
      );
    }
  }
  if ((flags & MAP_GROWSDOWN) !== 0 && !anonymous)
    throw invalid('MAP_GROWSDOWN needs MAP_ANONYMOUS');
  if (typeof hugepage !== 'boolean') throw invalid('hugepage must be a boolean');
  if (hugepage && !anonymous) {
    throw invalid('hugepage (MADV_HUGEPAGE) is modelled for anonymous mappings only');
  }
  checkPolicy(ctx, options.policy);
  if (mm.mmapLock.holders().length > 0 || mm.mmapLock.waiters > 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `mmap: ${mm.mmapLock.name} is held; mmap cannot wait`,
    );
  }
  if ((flags & MAP_HUGETLB) !== 0 || (file instanceof AddressSpace && file.hugetlb !== null)) {
    return hugetlbMmap(ctx, mm, options, flags, prot);
  }
  const len = alignUp(length, PAGE_SIZE);
  // THP-aligned placement: a private mapping with MADV_HUGEPAGE (the model's stand-in for
  // thp_get_unmapped_area), and shared anonymous memory whose shmem file may get huge
  // folios (`shmem_get_unmapped_area`, mm/shmem.c, 6.3, aligns unless huge=never).
  const thpAlign = hugepage || (anonymous && shared && ctx.shmemHuge !== 'never');
  const align = thpAlign ? PMD_SIZE : PAGE_SIZE;
  let start: number;
  if (addr !== undefined) {
    if (!Number.isInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0 || addr + len > TASK_SIZE) {
      throw invalid(`addr must be a page-aligned address below 2^47, got ${String(addr)}`);
    }
    if (rangeFree(mm, addr, addr + len)) start = addr;
    else if ((flags & MAP_FIXED) !== 0) {
      throw invalid(
        `MAP_FIXED at 0x${addr.toString(16)} overlaps an existing mapping; munmap it first`,
      );
    } else start = unmappedArea(mm, len, align);
  } else {
    if ((flags & MAP_FIXED) !== 0) throw invalid('MAP_FIXED needs addr');
    start = unmappedArea(mm, len, align);
    mm.mmapBase = start + len + PAGE_SIZE;
  }
  let vmFlags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if ((prot & PROT_READ) !== 0) vmFlags |= VM_READ;
  if ((prot & PROT_WRITE) !== 0) vmFlags |= VM_WRITE;
  if ((prot & PROT_EXEC) !== 0) vmFlags |= VM_EXEC;
  if (shared) vmFlags |= VM_SHARED | VM_MAYSHARE;
  if ((flags & MAP_LOCKED) !== 0) vmFlags |= VM_LOCKED;
  if ((flags & MAP_GROWSDOWN) !== 0) vmFlags |= VM_GROWSDOWN;
  if (hugepage) vmFlags |= VM_HUGEPAGE;
  // mmap_region: a new VMA is always soft-dirty (so pagemap reports all its pages).
  vmFlags |= VM_SOFTDIRTY;
  // A file was checked above to be one of ours.
  let backing = (file as AddressSpace | undefined) ?? null;
  let pgoff = pgoffArg;
  if (anonymous && shared) {
    backing = createFile(ctx, `shmem ${mm.name} 0x${start.toString(16)}`, undefined, true);
    backing.internal = true;
    // shmem_zero_setup -> shmem_kernel_file_setup on shm_mnt: i_size is the length, and
    // the file takes the mount's huge= (shmem_enabled).
    backing.huge = ctx.shmemHuge;
    backing.size = len;
    pgoff = 0;
  } else if (anonymous) {
    pgoff = start / PAGE_SIZE;
  }
  const vma = new Vma(
    mm,
    start,
    start + len,
    vmFlags,
    pgoff,
    backing,
    mmapPolicyOf(options.policy),
  );
  mm.insertVma(vma);
  backing?.iMmap.add(vma);
  return start;
}
