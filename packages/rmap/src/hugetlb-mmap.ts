import { EINVAL, ENOMEM, MmsimError } from '@mmsim/runtime';
import { AddressSpace } from './address-space.js';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  PTRS_PER_PTE,
  TASK_SIZE,
  VM_EXEC,
  VM_HUGETLB,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NORESERVE,
  VM_READ,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_WRITE,
} from './constants.js';
import { HPAGE_SIZE, HugetlbInode } from './hugetlb-state.js';
import { hugetlbGetUnmappedArea, hugetlbReservePages } from './hugetlb-vma.js';
import type { Mm } from './mm.js';
import type { MmapOptions } from './mmap-options.js';
import { mmapPolicyOf } from './mmap-policy.js';
import type { RmapState } from './rmap-state.js';
import { Vma } from './vma.js';

/**
 * `mmap` of hugetlb memory (Linux 6.3): MAP_HUGETLB (`ksys_mmap_pgoff`: the length rounded
 * up to 2 MiB, an unlinked hugetlbfs inode made by `hugetlb_file_setup` with VM_NORESERVE
 * of the size of the mapping, private or shared) or a hugetlbfs file
 * (`createFile(name, { hugetlb: true })`, the length rounded the same way). MAP_HUGETLB
 * with a file that is not hugetlbfs is -EINVAL. Placement is `hugetlb_get_unmapped_area`
 * (`hugetlbGetUnmappedArea`: MAP_FIXED at an address not 2 MiB-aligned is -EINVAL). Then
 * `hugetlbfs_file_mmap` (fs/hugetlbfs/inode.c): VM_HUGETLB, a file offset that is not
 * huge-page-aligned is -EINVAL, `hugetlb_reserve_pages` for the huge pages of the range
 * unless MAP_NORESERVE (VM_NORESERVE; -ENOMEM when the pool cannot cover them, nothing
 * changed), and a writable mapping extends the file's `i_size` to its end. The errors are
 * returned as -errno, the kernel's way (an address is never negative).
 */
export function hugetlbMmap(
  ctx: RmapState,
  mm: Mm,
  options: MmapOptions,
  flags: number,
  prot: number,
): number {
  const anonymous = (flags & MAP_ANONYMOUS) !== 0;
  const shared = (flags & MAP_SHARED) !== 0;
  const file = anonymous ? null : (options.file as AddressSpace);
  if (file !== null && file.hugetlb === null) return -EINVAL;
  const len = Math.ceil(options.length / HPAGE_SIZE) * HPAGE_SIZE;
  if (len > TASK_SIZE) return -ENOMEM;
  const pgoff = anonymous ? 0 : (options.pgoff ?? 0);
  if (pgoff % PTRS_PER_PTE !== 0) return -EINVAL;
  const start = hugetlbGetUnmappedArea(mm, options.addr, len, flags, TASK_SIZE);
  if (start < 0) return start;
  const below = mm.findVma(start);
  if (below !== null && below.start < start + len) {
    // The model does not replace mappings under MAP_FIXED (see mmap).
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `mmap: MAP_FIXED at 0x${start.toString(16)} overlaps an existing mapping; munmap it first`,
    );
  }
  let vmFlags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_HUGETLB | VM_SOFTDIRTY;
  if ((prot & PROT_READ) !== 0) vmFlags |= VM_READ;
  if ((prot & PROT_WRITE) !== 0) vmFlags |= VM_WRITE;
  if ((prot & PROT_EXEC) !== 0) vmFlags |= VM_EXEC;
  if (shared) vmFlags |= VM_SHARED | VM_MAYSHARE;
  if ((flags & MAP_LOCKED) !== 0) vmFlags |= VM_LOCKED;
  // do_mmap: MAP_NORESERVE of a hugetlbfs file always means VM_NORESERVE.
  if ((flags & MAP_NORESERVE) !== 0) vmFlags |= VM_NORESERVE;
  let backing = file;
  if (backing === null) {
    backing = new AddressSpace(
      ctx.rt,
      ++ctx.fileIds,
      `anon_hugepage ${mm.name} 0x${start.toString(16)}`,
      false,
    );
    backing.internal = true;
    backing.hugetlb = new HugetlbInode();
    backing.hugetlb.size = len / HPAGE_SIZE;
  }
  const inode = backing.hugetlb!;
  const vma = new Vma(
    mm,
    start,
    start + len,
    vmFlags,
    pgoff,
    backing,
    mmapPolicyOf(options.policy),
  );
  const from = pgoff / PTRS_PER_PTE;
  const to = from + len / HPAGE_SIZE;
  if (!hugetlbReservePages(ctx, inode, from, to, vma)) return -ENOMEM;
  if ((vmFlags & VM_WRITE) !== 0 && inode.size < to) inode.size = to;
  if (file === null) ctx.files.add(backing);
  if ((flags & MAP_FIXED) === 0 && options.addr === undefined) {
    mm.mmapBase = start + len + HPAGE_SIZE;
  }
  mm.insertVma(vma);
  backing.iMmap.add(vma);
  return start;
}
