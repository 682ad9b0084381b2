import { HPAGE_PMD_NR } from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { PAGE_SIZE, VM_HUGEPAGE } from './constants.js';
import type { AddressSpaceView } from './readonly-views.js';
import type { Vma } from './vma.js';

/**
 * Huge pages in shmem (mm/shmem.c, Linux 6.3): the `huge=` mount option of a tmpfs, and
 * for the internal mount behind MAP_SHARED | MAP_ANONYMOUS memory (`shm_mnt`) the value of
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled (`shmem_enabled_store` copies it into
 * `SHMEM_SB(shm_mnt->mnt_sb)->huge`). 'never' (SHMEM_HUGE_NEVER, the default), 'always',
 * 'within_size' (huge only where the whole PMD range lies inside i_size) and 'advise'
 * (huge only in VMAs marked VM_HUGEPAGE by MADV_HUGEPAGE). The sysfs-only 'deny' and
 * 'force' are not modelled.
 */
export type ShmemHuge = 'never' | 'always' | 'within_size' | 'advise';

/** The `huge=` values the model knows, in the kernel's order. */
export const SHMEM_HUGE_VALUES: readonly ShmemHuge[] = ['never', 'always', 'within_size', 'advise'];

/** Checks a `ShmemHuge` setting: INVALID_CONFIG naming `what` when it is none. */
export function checkShmemHuge(value: unknown, what: string): ShmemHuge {
  if (typeof value !== 'string' || !(SHMEM_HUGE_VALUES as readonly string[]).includes(value)) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `${what} must be one of ${SHMEM_HUGE_VALUES.map((v) => `'${v}'`).join(', ')}, got ${String(value)}`,
    );
  }
  return value as ShmemHuge;
}

/**
 * `shmem_is_huge(vma, inode, index, shmem_huge_force=false)` (mm/shmem.c, 6.3) for a fault
 * of page `index` of the shmem file `as` through `vma`: false for VMAs marked
 * VM_NOHUGEPAGE (the model has no such flag, nor MMF_DISABLE_THP); then by the file's
 * `huge` setting: 'always' yes; 'within_size' yes when i_size reaches the end of the PMD
 * range holding `index` (`round_up(index + 1, HPAGE_PMD_NR)` pages), otherwise as
 * 'advise'; 'advise' yes when the VMA has VM_HUGEPAGE; 'never' no.
 */
export function shmemIsHuge(vma: Vma | null, as: AddressSpaceView, index: number): boolean {
  switch (as.huge) {
    case 'never':
      return false;
    case 'always':
      return true;
    case 'within_size': {
      const end = Math.ceil((index + 1) / HPAGE_PMD_NR) * HPAGE_PMD_NR;
      const size = Math.ceil(as.size / PAGE_SIZE);
      if (size >= end) return true;
      return vma !== null && (vma.flags & VM_HUGEPAGE) !== 0;
    }
    case 'advise':
      return vma !== null && (vma.flags & VM_HUGEPAGE) !== 0;
  }
}
