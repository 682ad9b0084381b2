import { type MmView, VM_READ, VM_WRITE } from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';

/**
 * A system-call array argument given as an address rather than as values: what a C test
 * passes when it hands the kernel a pointer it cannot use (NULL, a freed mapping, a
 * PROT_NONE page) to see EFAULT. The model keeps one data word per page, not the bytes of
 * an array, so an access through a `UserPointer` that would succeed has no values to read:
 * it throws INVALID_ARGUMENT (pass the array's values instead). An access that faults is
 * what the kernel's `get_user` / `put_user` / `copy_{from,to}_user` report: -EFAULT.
 */
export interface UserPointer {
  readonly kind: 'user-pointer';
  readonly addr: number;
}

/** A `UserPointer` to `addr`. */
export function userPointer(addr: number): UserPointer {
  if (typeof addr !== 'number' || !Number.isFinite(addr)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `userPointer: addr must be a finite number, got ${String(addr)}`,
    );
  }
  return Object.freeze({ kind: 'user-pointer', addr });
}

/** True for a `UserPointer`. */
export function isUserPointer(v: unknown): v is UserPointer {
  return typeof v === 'object' && v !== null && (v as UserPointer).kind === 'user-pointer';
}

/**
 * Whether `bytes` bytes at `addr` of `mm` can be read (`write` false) or written: every
 * byte inside a VMA with VM_READ (VM_WRITE). `access_ok` and the fault path of
 * `copy_from_user` / `copy_to_user` (arch/x86/lib/usercopy_64.c; a fault is -EFAULT).
 */
export function userRangeAccessible(
  mm: MmView,
  addr: number,
  bytes: number,
  write: boolean,
): boolean {
  if (!Number.isInteger(addr) || addr < 0) return false;
  const need = write ? VM_WRITE : VM_READ;
  let at = addr;
  const end = addr + bytes;
  while (at < end) {
    const vma = mm.vmaLookup(at);
    if (vma === null || (vma.flags & need) === 0) return false;
    at = vma.end;
  }
  return true;
}
