import type { MmView } from '@mmsim/rmap';
import { EINVAL, EPERM, ESRCH, type KernelGen, MmsimError } from '@mmsim/runtime';
import { CAP_SYS_NICE } from './creds.js';
import { doPagesMove, doPagesStat, type UserArray } from './do-pages-move.js';
import { MPOL_MF_MOVE, MPOL_MF_MOVE_ALL } from './mempolicy-constants.js';
import type { Process } from './process.js';
import { PTRACE_MODE_READ_REALCREDS, ptraceMayAccess } from './ptrace.js';
import type { Sys } from './sys.js';
import { isUserPointer, type UserPointer, userRangeAccessible } from './user-pointer.js';
import type { Userland } from './userland.js';

/** The `pages` argument of move_pages(2): the addresses, or a pointer the kernel cannot use. */
export type MovePagesPages = readonly number[] | UserPointer;
/** The `nodes` argument: the target node of each page, null for query mode, or a pointer. */
export type MovePagesNodes = readonly number[] | UserPointer | null;
/** The `status` argument: an array the call fills in, or a pointer. */
export type MovePagesStatus = number[] | UserPointer;

/** `sizeof(void *)` and `sizeof(int)` on x86-64: the strides of the user arrays. */
const POINTER_SIZE = 8;
const INT_SIZE = 4;

/**
 * `find_mm_struct(pid, &mem_nodes)` (mm/migrate.c, 6.12): pid 0 is the caller (no
 * permission check); otherwise `find_get_task_by_vpid` (-ESRCH), `ptrace_may_access(task,
 * PTRACE_MODE_READ_REALCREDS)` (-EPERM), no LSM hook (`security_task_movememory` allows
 * all), and `get_task_mm` (-EINVAL for a kernel thread or an exited process). The nodes
 * are the target's `cpuset_mems_allowed`. Returns the mm and the nodes, or -errno.
 */
export function findMmStruct(
  userland: Userland,
  current: Process,
  pid: number,
): { readonly mm: MmView; readonly taskNodes: readonly number[] } | number {
  if (pid === 0) {
    if (current.mm === null) return -EINVAL;
    return { mm: current.mm, taskNodes: current.cpuset.mems };
  }
  const task = userland.findTaskByVpid(pid);
  if (task === null) return -ESRCH;
  if (!ptraceMayAccess(current, task, PTRACE_MODE_READ_REALCREDS)) return -EPERM;
  const mm = task.mm;
  if (mm === null || !mm.alive) return -EINVAL;
  return { mm, taskNodes: task.cpuset.mems };
}

/**
 * `kernel_move_pages(pid, nr_pages, pages, nodes, status, flags)` (mm/migrate.c, 6.12),
 * the checks in the kernel's order: flags other than MPOL_MF_MOVE / MPOL_MF_MOVE_ALL
 * -EINVAL; MPOL_MF_MOVE_ALL without CAP_SYS_NICE (`capable`, the caller's effective set)
 * -EPERM; then `find_mm_struct` (-ESRCH, -EPERM, -EINVAL); then `do_pages_move`, or
 * `do_pages_stat` when `nodes` is NULL. Returns 0, the pages not migrated, or -errno.
 */
export function* kernelMovePages(
  userland: Userland,
  current: Process,
  pid: number,
  nrPages: number,
  pages: UserArray,
  nodes: UserArray | null,
  status: UserArray,
  flags: number,
): KernelGen<number> {
  if ((flags & ~(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) !== 0) return -EINVAL;
  if ((flags & MPOL_MF_MOVE_ALL) !== 0 && !current.cred.effective.has(CAP_SYS_NICE)) {
    return -EPERM;
  }
  const target = findMmStruct(userland, current, pid);
  if (typeof target === 'number') return target;
  const k = userland.kernel;
  if (nodes !== null) {
    const all = (flags & MPOL_MF_MOVE_ALL) !== 0;
    return yield* doPagesMove(k, target.mm, target.taskNodes, nrPages, pages, nodes, status, all);
  }
  return yield* doPagesStat(k, target.mm, nrPages, pages, status);
}

/**
 * An array argument as the kernel reaches it (`UserArray`): element i of an array of
 * values, or a fault for an index past its end (the model does not invent the memory that
 * follows a C array); through a `UserPointer`, a fault when the element's bytes are not
 * mapped with the access it needs (see `UserPointer`).
 */
function userArray(
  caller: MmView,
  what: string,
  arg: readonly number[] | UserPointer,
  size: number,
): UserArray {
  if (isUserPointer(arg)) {
    const { addr } = arg;
    const unsupported = (i: number) =>
      new MmsimError(
        'INVALID_ARGUMENT',
        `move_pages: ${what}[${i}] at 0x${(addr + i * size).toString(16)} is mapped memory; the model keeps no arrays in user memory: pass the values as an array`,
      );
    return {
      get(i) {
        if (userRangeAccessible(caller, addr + i * size, size, false)) throw unsupported(i);
        return undefined;
      },
      put(i) {
        if (userRangeAccessible(caller, addr + i * size, size, true)) throw unsupported(i);
        return false;
      },
    };
  }
  const values = arg as number[];
  return {
    get: (i) => (i < values.length ? values[i] : undefined),
    put(i, value) {
      if (i >= values.length) return false;
      values[i] = value;
      return true;
    },
  };
}

function checkArray(what: string, arg: unknown, nullable: boolean): void {
  if (arg === null && nullable) return;
  if (isUserPointer(arg)) return;
  if (!Array.isArray(arg)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `move_pages: ${what} must be an array${nullable ? ', null' : ''} or a userPointer(), got ${String(arg)}`,
    );
  }
  for (let i = 0; i < arg.length; i++) {
    const v = arg[i] as unknown;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `move_pages: ${what}[${i}] must be a finite number, got ${String(v)}`,
      );
    }
  }
}

/**
 * `move_pages(pid, count, pages, nodes, status, flags)` from a thread (`sys.movePages`):
 * checks the TypeScript arguments (a pid, count or flags that is not an integer, an array
 * argument that is not an array or a `UserPointer`, throws INVALID_ARGUMENT), then runs
 * `kernel_move_pages` and returns its value (0, pages not migrated, or -errno).
 */
export function* sysMovePages(
  sys: Sys,
  pid: number,
  count: number,
  pages: MovePagesPages,
  nodes: MovePagesNodes,
  status: MovePagesStatus,
  flags: number,
): KernelGen<number> {
  for (const [what, v] of [
    ['pid', pid],
    ['flags', flags],
  ] as const) {
    if (!Number.isInteger(v)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `move_pages: ${what} must be an integer, got ${String(v)}`,
      );
    }
  }
  if (!Number.isInteger(count) || count < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `move_pages: count must be a non-negative integer (an unsigned long), got ${String(count)}`,
    );
  }
  checkArray('pages', pages, false);
  checkArray('nodes', nodes, true);
  checkArray('status', status, false);
  const caller = sys.mm;
  return yield* kernelMovePages(
    sys.userland,
    sys.process,
    pid,
    count,
    userArray(caller, 'pages', pages, POINTER_SIZE),
    nodes === null ? null : userArray(caller, 'nodes', nodes, INT_SIZE),
    userArray(caller, 'status', status, INT_SIZE),
    flags,
  );
}
