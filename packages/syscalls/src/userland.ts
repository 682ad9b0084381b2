import { nodeSpannedPages } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import type { MmView } from '@mmsim/rmap';
import { Completion, type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import { Cpuset, normaliseMems } from './cpuset.js';
import { mempolicyTaskInit } from './cpuset-memory.js';
import { makeCred } from './creds.js';
import { Process } from './process.js';
import { Sys } from './sys.js';

/** Options of `Userland.createProcess`. */
export interface ProcessOptions {
  /** The comm. */
  readonly name: string;
  /** Real, effective, saved and fs uid; default 0 (root). */
  readonly uid?: number;
  /** Real, effective, saved and fs gid; default the uid. */
  readonly gid?: number;
  /** Capabilities (permitted and effective); default all for uid 0, none otherwise. */
  readonly caps?: Iterable<number>;
  /** The cpuset; default the root cpuset. */
  readonly cpuset?: Cpuset;
  /** An existing address space to use (e.g. one a scenario built); default a new, empty one. */
  readonly mm?: MmView;
}

/** Options of `Userland.createCpuset`. */
export interface CpusetOptions {
  readonly mems: readonly number[];
  readonly memoryMigrate?: boolean;
  /** Default the root cpuset. */
  readonly parent?: Cpuset;
}

/** A thread body: a generator run as a task, with the thread's `Sys`; it may return the exit status (a number; anything else counts as 0). */
export type ThreadBody = (sys: Sys) => KernelGen<unknown>;

/**
 * The user-space side of one machine: the process table (pids, `find_task_by_vpid`), the
 * cpusets, and the threads that make system calls through a `Sys`. Build it on a kernel
 * with `createUserland`. Pids start at 1 and are never reused within a run; an exited process
 * stays findable (a zombie) until its parent waits for it.
 */
export class Userland {
  readonly kernel: Kernel;
  /** The top cpuset: every node with memory. */
  readonly rootCpuset: Cpuset;
  readonly #cpusets: Cpuset[] = [];
  readonly #processes = new Map<number, Process>();
  readonly #checkpoints = new Map<number, Completion>();
  #nextPid = 1;

  constructor(kernel: Kernel) {
    this.kernel = kernel;
    this.rootCpuset = new Cpuset('/', null, this.nodesWithMemory(), false);
    this.#cpusets.push(this.rootCpuset);
  }

  /** `node_states[N_MEMORY]`: the nodes that have memory, in id order. */
  nodesWithMemory(): number[] {
    const out: number[] = [];
    for (let nid = 0; nid < this.kernel.nrNodes; nid++) {
      if (nodeSpannedPages(this.kernel.mem, nid) > 0) out.push(nid);
    }
    return out;
  }

  /** `node_online(nid)`: every node of the machine is online. */
  nodeOnline(nid: number): boolean {
    return Number.isInteger(nid) && nid >= 0 && nid < this.kernel.nrNodes;
  }

  /** The cpusets, the root first. */
  get cpusets(): readonly Cpuset[] {
    return this.#cpusets;
  }

  /** A child cpuset (mkdir in the cpuset hierarchy, then writing `mems`). */
  createCpuset(name: string, options: CpusetOptions): Cpuset {
    if (typeof name !== 'string' || name.length === 0) {
      throw new MmsimError('INVALID_ARGUMENT', 'a cpuset name must be a non-empty string');
    }
    if (this.#cpusets.some((c) => c.name === name)) {
      throw new MmsimError('INVALID_ARGUMENT', `cpuset ${name} exists already`);
    }
    const parent = options.parent ?? this.rootCpuset;
    const mems = normaliseMems(options.mems, `cpuset ${name}`);
    for (const nid of mems) {
      if (!parent.allows(nid)) {
        throw new MmsimError(
          'INVALID_ARGUMENT',
          `cpuset ${name}: node ${nid} is not in the parent's mems (${parent.mems.join(',')})`,
        );
      }
    }
    const cs = new Cpuset(name, parent, mems, options.memoryMigrate ?? false);
    this.#cpusets.push(cs);
    return cs;
  }

  /** A new process with its own (empty, or given) address space. */
  createProcess(options: ProcessOptions): Process {
    if (typeof options !== 'object' || options === null) {
      throw new MmsimError('INVALID_ARGUMENT', 'createProcess: options must be an object');
    }
    const uid = options.uid ?? 0;
    const gid = options.gid ?? uid;
    for (const [what, v] of [
      ['uid', uid],
      ['gid', gid],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff_fffe) {
        throw new MmsimError(
          'INVALID_ARGUMENT',
          `createProcess: ${what} must be an id, got ${String(v)}`,
        );
      }
    }
    const mm = options.mm ?? this.kernel.createProcess(options.name);
    const cred = makeCred(uid, gid, options.caps);
    return this.#add(
      new Process(
        this.kernel.rt,
        this.#nextPid++,
        options.name,
        mm,
        cred,
        options.cpuset ?? this.rootCpuset,
        null,
      ),
    );
  }

  /** A kernel thread: a process without an mm (kthreadd's children), uid 0. */
  kernelThread(name: string): Process {
    return this.#add(
      new Process(
        this.kernel.rt,
        this.#nextPid++,
        name,
        null,
        makeCred(0, 0),
        this.rootCpuset,
        null,
      ),
    );
  }

  /** `find_task_by_vpid(pid)`: the process with that pid (a zombie included), or null. */
  findTaskByVpid(pid: number): Process | null {
    return this.#processes.get(pid) ?? null;
  }

  /** Every process not yet reaped, in pid order. */
  get processes(): readonly Process[] {
    return [...this.#processes.values()];
  }

  /**
   * Starts a thread of `process` on `cpu` running `body` with its own `Sys`; returns its task.
   * When the process's last thread ends, the process exits: its address space is torn down
   * (`exit_mmap`) and waiters in `waitpid` wake. The status is what the first thread's body
   * returned (0 if nothing).
   */
  spawnThread(process: Process, cpu: number, body: ThreadBody, name?: string): Task {
    if (process.hasExited) {
      throw new MmsimError('INVALID_STATE', `${process} has exited; it cannot start threads`);
    }
    if (typeof body !== 'function') {
      throw new MmsimError('INVALID_ARGUMENT', 'spawnThread: body must be a generator function');
    }
    const first = process.threads.length === 0;
    process.liveThreads++;
    const userland = this;
    const task = this.kernel.rt.spawn(name ?? process.comm, cpu, function* (t) {
      const sys = new Sys(userland, process, t);
      const status = yield* body(sys);
      yield* userland.#threadExit(
        process,
        first ? (typeof status === 'number' ? status : 0) : null,
      );
    });
    process.threads.push(task);
    mempolicyTaskInit(this, process, task);
    return task;
  }

  /**
   * `fork()` of `parent` from one of its threads: a child process with a copy of the address
   * space (`dup_mmap`), the parent's credentials, dumpable mode and cpuset, running `body` on
   * `cpu`. Returns the child.
   */
  *fork(parent: Process, cpu: number, body: ThreadBody): KernelGen<Process> {
    if (parent.mm === null) {
      throw new MmsimError('INVALID_STATE', `${parent} is a kernel thread; it cannot fork`);
    }
    const mm = yield* this.kernel.vm.fork(parent.mm, parent.comm);
    const child = new Process(
      this.kernel.rt,
      this.#nextPid++,
      parent.comm,
      mm,
      parent.cred.clone(),
      parent.cpuset,
      parent,
    );
    child.dumpable = parent.dumpable;
    parent.children.push(child);
    this.#add(child);
    this.spawnThread(child, cpu, body);
    return child;
  }

  /**
   * Checkpoint `id`, LTP's futex-based rendezvous between processes (`tst_checkpoint`):
   * one per id, made on first use.
   */
  checkpoint(id: number): Completion {
    if (!Number.isInteger(id) || id < 0) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `a checkpoint id must be an integer >= 0, got ${String(id)}`,
      );
    }
    let c = this.#checkpoints.get(id);
    if (c === undefined) {
      c = new Completion(this.kernel.rt, `checkpoint ${id}`);
      this.#checkpoints.set(id, c);
    }
    return c;
  }

  /** Removes an exited child from the table (the reaping in `wait4`). */
  reap(child: Process): void {
    if (!child.hasExited) {
      throw new MmsimError('INVALID_STATE', `${child} has not exited; it cannot be reaped`);
    }
    this.#processes.delete(child.pid);
  }

  *#threadExit(process: Process, status: number | null): KernelGen {
    if (status !== null) process.pendingStatus = status;
    process.liveThreads--;
    if (process.liveThreads > 0) return;
    if (process.mm !== null) {
      yield* this.kernel.vm.exit(process.mm);
      this.kernel.shadow.forgetUser(process.mm);
    }
    process.exitCode = process.pendingStatus;
    process.exited.completeAll();
  }

  #add(p: Process): Process {
    this.#processes.set(p.pid, p);
    return p;
  }
}

/** A user space on `kernel`: its process table and root cpuset. */
export function createUserland(kernel: Kernel): Userland {
  return new Userland(kernel);
}
