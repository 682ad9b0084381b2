import type { AddressSpaceView } from '@mmsim/rmap';
import {
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  type MmView,
  PAGE_SIZE,
  TASK_SIZE,
} from '@mmsim/rmap';
import {
  ECHILD,
  EINVAL,
  ENOMEM,
  EPERM,
  ESRCH,
  type KernelGen,
  MmsimError,
  type Task,
} from '@mmsim/runtime';
import type { Cpuset } from './cpuset.js';
import { cpusetAttach, cpusetSetMems } from './cpuset-memory.js';
import { CAP_SETUID, CAP_SYS_ADMIN, capEmulateSetxuid } from './creds.js';
import {
  kernelGetMempolicy,
  kernelMbind,
  kernelSetMempolicy,
  type ModeOut,
} from './mempolicy-calls.js';
import { kernelMigratePages } from './migrate-pages.js';
import {
  type MovePagesNodes,
  type MovePagesPages,
  type MovePagesStatus,
  sysMovePages,
} from './move-pages.js';
import type { NodemaskArg } from './nodemask-arg.js';
import { type Process, SUID_DUMP_DISABLE, SUID_DUMP_USER } from './process.js';
import type { ThreadBody, Userland } from './userland.js';

/** `PR_GET_DUMPABLE` (include/uapi/linux/prctl.h). */
export const PR_GET_DUMPABLE = 3;
/** `PR_SET_DUMPABLE`. */
export const PR_SET_DUMPABLE = 4;
/** What mmap returns on failure, `MAP_FAILED` ((void *) -1), as a number. */
export const MAP_FAILED = -1;

/**
 * One thread's door into the kernel, the way a C test sees it: each system call returns what
 * the C library returns (-1 on failure, with the error in `errno`), memory accesses are loads
 * and stores through the TLB that may fault and sleep (so `yield*` them), and `fork` /
 * `spawnThread` start more threads that the explorer interleaves with everything else.
 *
 * Errors of the model's user space are kernel errors (`errno`, status values); misuse of this
 * TypeScript API (an address that is not a number) throws `MmsimError('INVALID_ARGUMENT')`.
 */
export class Sys {
  readonly userland: Userland;
  readonly process: Process;
  readonly task: Task;
  /** The error of the last failed call, as C's `errno` (0 until a call fails). */
  errno = 0;

  constructor(userland: Userland, process: Process, task: Task) {
    this.userland = userland;
    this.process = process;
    this.task = task;
  }

  /** The address space of this process (throws for a kernel thread, which has none). */
  get mm(): MmView {
    const mm = this.process.mm;
    if (mm === null) throw new MmsimError('INVALID_STATE', `${this.process} has no mm`);
    return mm;
  }

  /**
   * The C library's return convention: a negative kernel return becomes -1 with `errno`
   * set; anything else is returned as it is.
   */
  ret(kernelRet: number): number {
    if (kernelRet < 0) {
      this.errno = -kernelRet;
      return -1;
    }
    return kernelRet;
  }

  // Identity and credentials

  getpid(): number {
    return this.process.pid;
  }

  getppid(): number {
    return this.process.parent?.pid ?? 0;
  }

  getuid(): number {
    return this.process.cred.uid;
  }

  geteuid(): number {
    return this.process.cred.euid;
  }

  /**
   * `setuid(uid)` (`__sys_setuid`, kernel/sys.c, 6.3): with CAP_SETUID every uid becomes
   * `uid`; without it only the effective (and fs) uid, and only to the real or saved uid
   * (else EPERM). Capabilities follow `cap_emulate_setxuid`; an effective-uid change makes
   * the mm non-dumpable (`commit_creds`).
   */
  setuid(uid: number): number {
    checkId('setuid', uid);
    const cred = this.process.cred;
    const old = { uid: cred.uid, euid: cred.euid, suid: cred.suid };
    if (cred.effective.has(CAP_SETUID)) {
      cred.uid = cred.euid = cred.suid = cred.fsuid = uid;
    } else if (uid === cred.uid || uid === cred.suid) {
      cred.euid = cred.fsuid = uid;
    } else {
      return this.ret(-EPERM);
    }
    this.#committed(old);
    return 0;
  }

  /**
   * `setresuid(ruid, euid, suid)` (`__sys_setresuid`, kernel/sys.c, 6.3); -1 leaves one
   * unchanged. Without CAP_SETUID each new id must be one of the current real, effective or
   * saved uid (else EPERM). The fs uid follows the effective uid.
   */
  setresuid(ruid: number, euid: number, suid: number): number {
    const cred = this.process.cred;
    const ids = [cred.uid, cred.euid, cred.suid];
    for (const [what, v] of [
      ['ruid', ruid],
      ['euid', euid],
      ['suid', suid],
    ] as const) {
      if (v !== -1) checkId(`setresuid ${what}`, v);
      if (v !== -1 && !cred.effective.has(CAP_SETUID) && !ids.includes(v)) return this.ret(-EPERM);
    }
    const old = { uid: cred.uid, euid: cred.euid, suid: cred.suid };
    if (ruid !== -1) cred.uid = ruid;
    if (euid !== -1) cred.euid = euid;
    if (suid !== -1) cred.suid = suid;
    cred.fsuid = cred.euid;
    this.#committed(old);
    return 0;
  }

  /** `seteuid(euid)`: the C library's `setresuid(-1, euid, -1)`. */
  seteuid(euid: number): number {
    return this.setresuid(-1, euid, -1);
  }

  /**
   * `capset(2)` removing `cap` from the effective set (what LTP's `TST_CAP(TST_CAP_DROP,
   * cap)` does); the permitted set keeps it. Returns 0.
   */
  capDrop(cap: number): number {
    checkId('capDrop', cap);
    this.process.cred.effective.delete(cap);
    return 0;
  }

  /** True when this process has `cap` in its effective set (`capable`, kernel/capability.c). */
  capable(cap: number): boolean {
    return this.process.cred.effective.has(cap);
  }

  /**
   * `prctl(PR_SET_DUMPABLE, 0 | 1)` and `prctl(PR_GET_DUMPABLE)` (kernel/sys.c, 6.3); other
   * options are EINVAL.
   */
  prctl(option: number, arg2 = 0): number {
    if (option === PR_GET_DUMPABLE) return this.process.dumpable;
    if (option === PR_SET_DUMPABLE) {
      if (arg2 !== SUID_DUMP_DISABLE && arg2 !== SUID_DUMP_USER) return this.ret(-EINVAL);
      this.process.dumpable = arg2;
      return 0;
    }
    return this.ret(-EINVAL);
  }

  // Memory

  /**
   * `mmap(addr, length, prot, flags, file, offset)` (`do_mmap`, mm/mmap.c, 6.3): the address
   * of the new mapping, or MAP_FAILED (-1) with EINVAL (a zero length, a misaligned MAP_FIXED
   * address or offset, flags the model does not know) or ENOMEM (no room). `file` stands for
   * the descriptor of a file this machine made; the offset is in bytes.
   */
  *mmap(
    addr: number,
    length: number,
    prot: number,
    flags: number,
    file?: AddressSpaceView,
    offset = 0,
  ): KernelGen<number> {
    checkNumber('mmap addr', addr);
    checkNumber('mmap length', length);
    if (length <= 0 || length > TASK_SIZE) return this.ret(-(length <= 0 ? EINVAL : ENOMEM));
    if (offset % PAGE_SIZE !== 0 || offset < 0) return this.ret(-EINVAL);
    if ((flags & MAP_FIXED) !== 0 && addr % PAGE_SIZE !== 0) return this.ret(-EINVAL);
    const hint = addr !== 0 && addr % PAGE_SIZE === 0 ? { addr } : {};
    const mm = this.mm;
    // vm_mmap_pgoff runs do_mmap under mmap_lock for write; the model's mmap is one step
    // and must find the lock free, so wait for it to be free first.
    while (mm.mmapLock.holders().length > 0 || mm.mmapLock.waiters > 0) {
      yield* mm.mmapLock.downWrite('vm_mmap_pgoff');
      mm.mmapLock.upWrite();
    }
    try {
      return this.userland.kernel.vm.mmap(mm, {
        length,
        prot,
        flags,
        ...hint,
        ...((flags & MAP_ANONYMOUS) === 0 && file !== undefined
          ? { file, pgoff: offset / PAGE_SIZE }
          : {}),
      });
    } catch (e) {
      if (e instanceof MmsimError && e.code === 'INVALID_ARGUMENT') {
        return this.ret(/no room/.test(e.message) ? -ENOMEM : -EINVAL);
      }
      throw e;
    }
  }

  /** `munmap(addr, length)`: 0, or -1 with EINVAL for a misaligned address or zero length. */
  *munmap(addr: number, length: number): KernelGen<number> {
    checkNumber('munmap addr', addr);
    checkNumber('munmap length', length);
    if (addr % PAGE_SIZE !== 0 || length <= 0 || addr + length > TASK_SIZE)
      return this.ret(-EINVAL);
    const ret = yield* this.userland.kernel.vm.munmap(this.mm, addr, length);
    if (ret === 0) this.userland.kernel.shadow.forgetUser(this.mm, addr, addr + length);
    return this.ret(ret);
  }

  /**
   * `madvise(addr, len, advice)` (mm/madvise.c, 6.3): MADV_DONTNEED (the private words of
   * the range are forgotten by the lost-write check: the next read sees zero or the file),
   * MADV_HUGEPAGE / NOHUGEPAGE, the read-ahead hints, MADV_MERGEABLE / UNMERGEABLE (KSM) and
   * MADV_SOFT_OFFLINE (CAP_SYS_ADMIN, else EPERM). 0, or -1 with errno (see `Kernel.madvise`).
   */
  *madvise(addr: number, length: number, advice: number): KernelGen<number> {
    checkNumber('madvise addr', addr);
    checkNumber('madvise length', length);
    const k = this.userland.kernel;
    const ret = yield* k.madvise(this.mm, addr, length, advice, this.capable(CAP_SYS_ADMIN));
    if (ret === 0 && (advice === MADV_DONTNEED || advice === MADV_DONTNEED_LOCKED)) {
      k.shadow.forgetUser(this.mm, addr, addr + length);
    }
    return this.ret(ret);
  }

  /** `mprotect(addr, len, prot)` (mm/mprotect.c, 6.3): 0, or -1 with EINVAL / ENOMEM / EACCES. */
  *mprotect(addr: number, length: number, prot: number): KernelGen<number> {
    checkNumber('mprotect addr', addr);
    checkNumber('mprotect length', length);
    return this.ret(yield* this.userland.kernel.vm.mprotect(this.mm, addr, length, prot));
  }

  /**
   * `mremap(old_address, old_size, new_size, flags, new_address)` (mm/mremap.c, 6.3): the
   * (new) address, or MAP_FAILED (-1) with errno. The words written in a moved range are
   * expected at its new place afterwards.
   */
  *mremap(
    oldAddress: number,
    oldSize: number,
    newSize: number,
    flags: number,
    newAddress = 0,
  ): KernelGen<number> {
    checkNumber('mremap old_address', oldAddress);
    checkNumber('mremap old_size', oldSize);
    checkNumber('mremap new_size', newSize);
    const k = this.userland.kernel;
    const ret = yield* k.vm.mremap(this.mm, oldAddress, oldSize, newSize, flags, newAddress);
    if (ret >= 0 && ret !== oldAddress) {
      k.shadow.moveUser(this.mm, oldAddress, Math.min(oldSize, newSize), ret);
    }
    if (ret >= 0 && newSize < oldSize) {
      k.shadow.forgetUser(this.mm, ret + newSize, ret + oldSize);
    }
    return this.ret(ret);
  }

  /** `mlock(addr, len)`: 0 or -1 with ENOMEM (see `VirtualMemory.mlock`). */
  *mlock(addr: number, length: number): KernelGen<number> {
    checkNumber('mlock addr', addr);
    checkNumber('mlock length', length);
    return this.ret(yield* this.userland.kernel.vm.mlock(this.mm, addr, length));
  }

  /** `munlock(addr, len)`. */
  *munlock(addr: number, length: number): KernelGen<number> {
    checkNumber('munlock addr', addr);
    checkNumber('munlock length', length);
    return this.ret(yield* this.userland.kernel.vm.munlock(this.mm, addr, length));
  }

  /**
   * `move_pages(pid, count, pages, nodes, status, flags)` (`kernel_move_pages`,
   * mm/migrate.c, 6.12; see move-pages.ts): query the node of each page (`nodes` null) or
   * move each page to its node, writing `status`. Returns the number of pages not migrated
   * (0 when all were), or -1 with `errno`.
   */
  *movePages(
    pid: number,
    count: number,
    pages: MovePagesPages,
    nodes: MovePagesNodes,
    status: MovePagesStatus,
    flags: number,
  ): KernelGen<number> {
    return this.ret(yield* sysMovePages(this, pid, count, pages, nodes, status, flags));
  }

  /**
   * A load of the word at `addr` (the model keeps one word per page): through this CPU's TLB,
   * faulting as needed; checked against the last value stored there (the lost-write check).
   * An access outside every mapping, or against its protection, throws (the process would
   * get SIGSEGV).
   */
  *read(addr: number): KernelGen<number> {
    checkNumber('read addr', addr);
    const k = this.userland.kernel;
    const where = k.shadow.userLocation(this.mm, addr);
    const value = yield* k.vm.userRead(this.mm, addr);
    k.shadow.read(where, value, String(this.task)); // the same step as the load
    return value;
  }

  /** A store of `value` to the word at `addr`, recorded for the lost-write check. */
  *write(addr: number, value: number): KernelGen {
    checkNumber('write addr', addr);
    checkNumber('write value', value);
    const k = this.userland.kernel;
    const where = k.shadow.userLocation(this.mm, addr);
    yield* k.vm.userWrite(this.mm, addr, value);
    k.shadow.wrote(where, value, String(this.task)); // the same step as the store
  }

  // Memory policy and cpusets (mempolicy-calls.ts, migrate-pages.ts, cpuset-memory.ts)

  /** `mbind(addr, len, mode, nodemask, maxnode, flags)`: 0, or -1 with errno (see `kernelMbind`). */
  *mbind(
    addr: number,
    len: number,
    mode: number,
    nodemask: NodemaskArg,
    maxnode: number,
    flags: number,
  ): KernelGen<number> {
    return this.ret(yield* kernelMbind(this, addr, len, mode, nodemask, maxnode, flags));
  }

  /** `set_mempolicy(mode, nodemask, maxnode)` for this thread (see `kernelSetMempolicy`). */
  *setMempolicy(mode: number, nodemask: NodemaskArg, maxnode: number): KernelGen<number> {
    return this.ret(yield* kernelSetMempolicy(this, mode, nodemask, maxnode));
  }

  /** `get_mempolicy(&mode, nodemask, maxnode, addr, flags)`: fills `mode.value` and the words (see `kernelGetMempolicy`). */
  *getMempolicy(
    mode: ModeOut | null,
    nodemask: bigint[] | null,
    maxnode: number,
    addr: number,
    flags: number,
  ): KernelGen<number> {
    return this.ret(yield* kernelGetMempolicy(this, mode, nodemask, maxnode, addr, flags));
  }

  /** `migrate_pages(pid, maxnode, old_nodes, new_nodes)`: pages not moved, or -1 (see `kernelMigratePages`). */
  *migratePages(
    pid: number,
    maxnode: number,
    oldNodes: NodemaskArg,
    newNodes: NodemaskArg,
  ): KernelGen<number> {
    return this.ret(yield* kernelMigratePages(this, pid, maxnode, oldNodes, newNodes));
  }

  /** Writing `pid` to a cpuset's `tasks` file (see `cpusetAttach`): 0, or -1 with ESRCH / ENOSPC. */
  *cpusetAttach(pid: number, cpuset: Cpuset): KernelGen<number> {
    const p = pid === 0 ? this.process : this.userland.findTaskByVpid(pid);
    return this.ret(p === null ? -ESRCH : yield* cpusetAttach(this.userland, p, cpuset));
  }

  /** Writing a cpuset's `cpuset.mems` (see `cpusetSetMems`): 0, or -1 with errno. */
  *cpusetSetMems(cpuset: Cpuset, mems: readonly number[]): KernelGen<number> {
    return this.ret(yield* cpusetSetMems(this.userland, cpuset, mems));
  }

  // Processes and threads

  /**
   * `fork()`: a child process (copy of the address space, the credentials, the cpuset)
   * whose one thread runs `child` on `cpu` (default this thread's CPU). Returns the child's
   * pid to the parent; the child's code is `child`, not the rest of this body.
   */
  *fork(child: ThreadBody, cpu: number = this.task.cpu.id): KernelGen<number> {
    const p = yield* this.userland.fork(this.process, cpu, child);
    return p.pid;
  }

  /** A new thread of this process (`pthread_create`) running `body` on `cpu`; returns its task id. */
  spawnThread(body: ThreadBody, cpu: number = this.task.cpu.id): number {
    return this.userland.spawnThread(this.process, cpu, body).id;
  }

  /**
   * `waitpid(pid)` for a child: waits until it exits, reaps it and returns its exit status
   * (as `WEXITSTATUS` would give it); -1 with ECHILD if `pid` is not a child of this process.
   */
  *waitpid(pid: number): KernelGen<number> {
    const child = this.process.children.find((c) => c.pid === pid);
    if (child === undefined || this.userland.findTaskByVpid(pid) === null) return this.ret(-ECHILD);
    if (!child.hasExited) yield* child.exited.wait('do_wait');
    this.userland.reap(child);
    return child.exitCode ?? 0;
  }

  /** `kill(pid, 0)`: 0 if the process exists (a zombie too), else -1 with ESRCH. */
  killCheck(pid: number): number {
    return this.userland.findTaskByVpid(pid) === null ? this.ret(-ESRCH) : 0;
  }

  /**
   * LTP's `TST_CHECKPOINT_WAIT(id)`: sleeps until another thread or process wakes checkpoint
   * `id` (a wake that comes first is kept for the next wait).
   */
  *checkpointWait(id: number): KernelGen {
    yield* this.userland.checkpoint(id).wait('futex_wait');
  }

  /** LTP's `TST_CHECKPOINT_WAKE(id)`: wakes one waiter of checkpoint `id`. */
  checkpointWake(id: number): void {
    this.userland.checkpoint(id).complete();
  }

  #committed(old: { uid: number; euid: number; suid: number }): void {
    const cred = this.process.cred;
    capEmulateSetxuid(cred, old);
    if (cred.euid !== old.euid) this.process.dumpable = SUID_DUMP_DISABLE;
  }
}

function checkNumber(what: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new MmsimError('INVALID_ARGUMENT', `${what} must be a finite number, got ${String(v)}`);
  }
}

function checkId(what: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${what} must be a non-negative integer, got ${String(v)}`,
    );
  }
}
