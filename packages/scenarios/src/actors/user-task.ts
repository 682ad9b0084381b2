import type { Actor, Kernel } from '@mmsim/kernel';
import type { MmView } from '@mmsim/rmap';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type RandomStream, type Task } from '@mmsim/runtime';
import { type AccessPattern, pagePicker } from './access-pattern.js';

/** Options of `userTask`. */
export interface UserTaskOptions {
  /** The task's comm; default `user`. */
  readonly name?: string;
  readonly cpu: number;
  /** The process whose memory it touches (a thread of it). */
  readonly mm: MmView;
  /** Start of the area (page aligned) and its size in pages. */
  readonly addr: number;
  readonly pages: number;
  /** Default `'random'`. */
  readonly pattern?: AccessPattern;
  /** Accesses to make. */
  readonly accesses: number;
  /** Probability that an access is a store (the rest are loads). Default 0.5. */
  readonly writeRatio?: number;
  /**
   * Virtual ns of work the program does after each access (charged to its CPU): the
   * computation between memory accesses. Default 0.
   */
  readonly computeNs?: number;
  /** Stop early once this returns true (checked before each access). */
  readonly until?: () => boolean;
  /** Counters to fill in. */
  readonly stats?: UserTaskStats;
}

/** What a user task did. */
export interface UserTaskStats {
  loads: number;
  stores: number;
  /** Loads that did not see the last value written (also reported by `no-lost-write`). */
  mismatches: number;
}

/** A new, zeroed `UserTaskStats`. */
export function userTaskStats(): UserTaskStats {
  return { loads: 0, stores: 0, mismatches: 0 };
}

/**
 * A user task: one thread of a process touching its memory with loads and stores, in a
 * pattern (`sequential`, `random`, `hot-set`), with the page of each access and whether it
 * is a store drawn from the run's workload random stream. Each access is a user-mode load
 * or store (`VirtualMemory.userRead` / `userWrite`): through this CPU's TLB, a hardware
 * page walk, and on a miss the page-fault path (`do_user_addr_fault` -> `handle_mm_fault`
 * -> `do_anonymous_page` / `do_fault` / `do_wp_page`, or `migration_entry_wait` on a page
 * under migration; arch/x86/mm/fault.c and mm/memory.c, 6.3). After each access the task
 * yields: another CPU may run there.
 *
 * Stores write a value unique to this task and access, and record it in the kernel's
 * shadow memory in the step of the store; loads check what they see against it.
 *
 * The body is a plain iterator (`UserTaskRun`), not a generator: one call of its `next()`
 * is one step, an access and the scheduling point after it, the same steps a generator
 * with a `yield` after each access takes; a generator exists only while a fault of an
 * access may wait (a first touch that needs no wait runs as plain calls).
 */
export function userTask(k: Kernel, options: UserTaskOptions): Actor {
  const { accesses } = options;
  const writeRatio = options.writeRatio ?? 0.5;
  if (!Number.isInteger(accesses) || accesses < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `accesses must be a non-negative integer, got ${String(accesses)}`,
    );
  }
  if (!(writeRatio >= 0 && writeRatio <= 1)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `writeRatio must be in [0, 1], got ${String(writeRatio)}`,
    );
  }
  const name = options.name ?? 'user';
  const computeNs = options.computeNs ?? 0;
  if (!(computeNs >= 0 && Number.isFinite(computeNs))) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `computeNs must be a finite number >= 0, got ${String(computeNs)}`,
    );
  }
  return {
    name,
    cpu: options.cpu,
    models:
      'a user thread: loads and stores through the TLB and page walk, faulting into do_user_addr_fault / handle_mm_fault (mm/memory.c, 6.3)',
    body: (task: Task): KernelGen => new UserTaskRun(k, options, writeRatio, computeNs, task),
  };
}

/** A place of the kernel's shadow memory (`Shadow.userLocation`). */
type ShadowLocation = ReturnType<Kernel['shadow']['userLocation']>;

/** What `next()` returns at a scheduling point; read and dropped by the runtime at once. */
const STEPPED: IteratorYieldResult<void> = { done: false, value: undefined };
const ENDED: IteratorReturnResult<void> = { done: true, value: undefined };

/**
 * The running body of a `userTask`, as an iterator the runtime steps with `next()`: each
 * call ends at the scheduling point after one access (or ends the task), so an access
 * that needs no fault, or whose faults all run as plain calls (`userWriteFaultedPlain` /
 * `userReadFaultedPlain`), creates no generator and no per-access object. An access whose
 * fault may wait hands over to the generator those return (and builds the shadow's
 * location then, before any wait), stepped by the following calls as `yield*` would, and
 * is finished in the step that generator returns in.
 */
class UserTaskRun implements KernelGen {
  readonly #k: Kernel;
  readonly #options: UserTaskOptions;
  readonly #writeRatio: number;
  readonly #computeNs: number;
  readonly #task: Task;
  /** The access pattern; made at the first step (as the generator body did). */
  #pick: ((n: number) => number) | null = null;
  /** The run's workload random stream (`rt.random.workload`), taken with `#pick`. */
  #rng: RandomStream | null = null;
  #who = '';
  /** `#who` as the shadow's writer index (`ShadowMemory.writerIndex`). */
  #whoIndex = 0;
  /** Index of the current (or next) access. */
  #n = 0;
  #ended = false;
  /** The fault path of the current access while it runs; null otherwise. */
  #faulted: KernelGen<unknown> | null = null;
  #faultedWrite = false;
  #faultedWhere: ShadowLocation | null = null;
  #faultedValue = 0;

  constructor(
    k: Kernel,
    options: UserTaskOptions,
    writeRatio: number,
    computeNs: number,
    task: Task,
  ) {
    this.#k = k;
    this.#options = options;
    this.#writeRatio = writeRatio;
    this.#computeNs = computeNs;
    this.#task = task;
  }

  next(): IteratorResult<void, void> {
    if (this.#ended) return ENDED;
    // One access per step, then the scheduling point. When the runtime can take that
    // point without suspending this task (`Runtime.virtualStep`: the same step and
    // decision as returning here), the next access runs on in the same call.
    const rt = this.#k.rt;
    if (this.#faulted !== null && (!this.#stepFault() || !rt.virtualStep())) return STEPPED;
    for (;;) {
      if (!this.#access()) return this.#ended ? ENDED : STEPPED;
      if (!rt.virtualStep()) return STEPPED;
    }
  }

  /**
   * Starts access number `#n` in the current step: false when the task ends instead, or
   * when the access faulted and its fault path has yet to finish (in later steps).
   */
  #access(): boolean {
    const options = this.#options;
    if (this.#n >= options.accesses || options.until?.() === true) {
      this.#ended = true;
      return false;
    }
    const k = this.#k;
    let pick = this.#pick;
    if (pick === null) {
      this.#rng = k.rt.random.workload;
      pick = pagePicker(options.pattern ?? 'random', options.pages, this.#rng);
      this.#pick = pick;
      this.#who = String(this.#task);
      this.#whoIndex = k.shadow.writerIndex(this.#who);
    }
    const mm = options.mm;
    const n = this.#n;
    const at = options.addr + pick(n) * PAGE_SIZE;
    const stats = options.stats;
    if ((this.#rng as RandomStream).chance(this.#writeRatio)) {
      const value = this.#task.id * 1_000_000 + n + 1;
      // As userWrite, with no generator unless a fault of the store may wait.
      if (!k.vm.userWriteFast(mm, at, value)) {
        const rest = k.vm.userWriteFaultedPlain(mm, at, value);
        if (rest !== null) {
          this.#faulted = rest;
          this.#faultedWrite = true;
          this.#faultedWhere = k.shadow.userLocation(mm, at);
          this.#faultedValue = value;
          return this.#stepFault();
        }
      }
      // The shadow's record of the store, in its step (no location object built).
      k.shadow.wroteUserAccess(mm, at, value, this.#whoIndex);
      if (stats !== undefined) stats.stores++;
    } else {
      // As userRead, with no generator unless a fault of the load may wait.
      let value = k.vm.userReadFast(mm, at);
      if (Number.isNaN(value)) {
        const got = k.vm.userReadFaultedPlain(mm, at);
        if (typeof got !== 'number') {
          this.#faulted = got;
          this.#faultedWrite = false;
          this.#faultedWhere = k.shadow.userLocation(mm, at);
          return this.#stepFault();
        }
        value = got;
      }
      // The shadow's check of the load, in its step.
      const ok = k.shadow.readUserAccess(mm, at, value, this.#who);
      if (stats !== undefined) {
        stats.loads++;
        if (!ok) stats.mismatches++;
      }
    }
    this.#accessed();
    return true;
  }

  /**
   * One step of the fault path of the current access: true when it returned, and the
   * access is finished (in this step).
   */
  #stepFault(): boolean {
    const r = (this.#faulted as KernelGen<unknown>).next();
    if (r.done !== true) return false;
    this.#faulted = null;
    const where = this.#faultedWhere as ShadowLocation;
    this.#faultedWhere = null;
    if (this.#faultedWrite) this.#stored(where, this.#faultedValue);
    else this.#loaded(where, r.value as number);
    this.#accessed();
    return true;
  }

  #stored(where: ShadowLocation, value: number): void {
    this.#k.shadow.wrote(where, value, this.#who); // same step as the store
    const stats = this.#options.stats;
    if (stats !== undefined) stats.stores++;
  }

  #loaded(where: ShadowLocation, value: number): void {
    const ok = this.#k.shadow.read(where, value, this.#who); // same step as the load
    const stats = this.#options.stats;
    if (stats !== undefined) {
      stats.loads++;
      if (!ok) stats.mismatches++;
    }
  }

  /**
   * The end of an access: the program's computation. The scheduling point follows (the
   * program runs on; another CPU may interleave there).
   */
  #accessed(): void {
    if (this.#computeNs > 0) this.#k.rt.charge(this.#computeNs);
    this.#n++;
  }

  return(): IteratorResult<void, void> {
    this.#ended = true;
    this.#faulted = null;
    return ENDED;
  }

  throw(error: unknown): IteratorResult<void, void> {
    this.#ended = true;
    this.#faulted = null;
    throw error;
  }

  [Symbol.iterator](): this {
    return this;
  }
}
