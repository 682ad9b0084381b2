import type { MmView } from '@mmsim/rmap';
import { Completion, type Runtime, type Task } from '@mmsim/runtime';
import type { Cpuset } from './cpuset.js';
import type { Cred } from './creds.js';

/** `SUID_DUMP_DISABLE` (include/linux/sched/coredump.h): not dumpable. */
export const SUID_DUMP_DISABLE = 0;
/** `SUID_DUMP_USER`: dumpable, the default of a process that never changed ids. */
export const SUID_DUMP_USER = 1;

/**
 * A process of the model's user space (`struct task_struct` of a thread-group leader and
 * what the group shares, include/linux/sched.h, 6.3): its pid (tgid), comm, address space
 * (null for a kernel thread), credentials, the dumpable mode of its mm, its cpuset, and the
 * runtime tasks that are its threads. Threads share the credentials here (the model has no
 * per-thread setuid).
 */
export class Process {
  readonly pid: number;
  comm: string;
  /** The address space; null for a kernel thread (`task->mm == NULL`). */
  readonly mm: MmView | null;
  cred: Cred;
  /** `get_dumpable(mm)`: SUID_DUMP_USER unless an id change or prctl cleared it. */
  dumpable: number;
  cpuset: Cpuset;
  readonly parent: Process | null;
  readonly children: Process[] = [];
  /** The runtime tasks running this process's threads, in creation order. */
  readonly threads: Task[] = [];
  /** The exit status once every thread has ended (`exit_code`), else null. */
  exitCode: number | null = null;
  /** Completed (all) when the process exits: what `waitpid` waits on. */
  readonly exited: Completion;
  /** Threads still running. */
  liveThreads = 0;
  /** The status the process will exit with: what its first thread returned. */
  pendingStatus = 0;

  constructor(
    rt: Runtime,
    pid: number,
    comm: string,
    mm: MmView | null,
    cred: Cred,
    cpuset: Cpuset,
    parent: Process | null,
  ) {
    this.pid = pid;
    this.comm = comm;
    this.mm = mm;
    this.cred = cred;
    this.dumpable = SUID_DUMP_USER;
    this.cpuset = cpuset;
    this.parent = parent;
    this.exited = new Completion(rt, `exit of ${comm}-${pid}`);
  }

  /** True for a kernel thread (no mm). */
  get isKernelThread(): boolean {
    return this.mm === null;
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.exitCode !== null;
  }

  toString(): string {
    return `${this.comm}-${this.pid}`;
  }
}
