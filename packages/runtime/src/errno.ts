/**
 * Kernel errno values (include/uapi/asm-generic/errno-base.h, errno.h and
 * include/linux/errno.h, x86-64 numbering as of Linux 6.3). Kernel-style functions in the
 * model return them negated, as the kernel does: `return -EAGAIN`.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EDEADLK = 35;
/** On x86 (and every architecture but mips, powerpc and sparc) EDEADLOCK is EDEADLK. */
export const EDEADLOCK = EDEADLK;
export const ENOSYS = 38;
export const ENODATA = 61;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;
export const EHWPOISON = 133;
/** Kernel-internal, never returned to user space (include/linux/errno.h). */
export const ENOTSUPP = 524;

const NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [EINTR]: 'EINTR',
  [EIO]: 'EIO',
  [ENXIO]: 'ENXIO',
  [E2BIG]: 'E2BIG',
  [EBADF]: 'EBADF',
  [ECHILD]: 'ECHILD',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [ENODEV]: 'ENODEV',
  [EINVAL]: 'EINVAL',
  [ENOSPC]: 'ENOSPC',
  [EDEADLK]: 'EDEADLOCK',
  [ENOSYS]: 'ENOSYS',
  [ENODATA]: 'ENODATA',
  [EOVERFLOW]: 'EOVERFLOW',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [EHWPOISON]: 'EHWPOISON',
  [ENOTSUPP]: 'ENOTSUPP',
};

/** `errnoName(-11)` and `errnoName(11)` are both `'EAGAIN'`; unknown values print as numbers. */
export function errnoName(err: number): string {
  const name = NAMES[Math.abs(err)];
  if (name === undefined) return String(err);
  return err < 0 ? `-${name}` : name;
}
