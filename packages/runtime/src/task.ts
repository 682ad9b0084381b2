import { heldLocksChanged } from './locks/held-epoch.js';
import type { Resource } from './resource.js';

/**
 * What a task yields: nothing. Every `yield` is a scheduling point; whether the task goes
 * on running, is preempted or sleeps is decided by its state, which the blocking
 * primitives set before they yield.
 */
export type KernelGen<R = void> = Generator<void, R, void>;

/** The body of a task: a generator function that receives its own task. */
export type TaskBody = (task: Task) => KernelGen<unknown>;

export type TaskState = 'runnable' | 'sleeping' | 'timed' | 'done';

/** Per-task flags, values from include/linux/sched.h (6.3). */
export const PF_MEMALLOC = 0x0000_0800;
export const PF_KTHREAD = 0x0020_0000;

/** Why a task sleeps: the kernel function it waits in and the resource it waits for. */
export interface WaitInfo {
  readonly waitsIn: string;
  readonly resource: Resource;
}

/** One simulated CPU: its virtual clock and who runs on it. */
export class Cpu {
  readonly id: number;
  readonly node: number;
  /** Virtual time of this CPU, in nanoseconds. */
  clock = 0;
  /** The last task that ran here, to charge context switches. */
  lastTask: Task | null = null;
  /**
   * A task with preemption disabled here (holding or spinning on a spinlock): no other
   * task may run on this CPU until it is done.
   */
  atomicTask: Task | null = null;
  /**
   * @internal The task the trace shows running here, null for the idle task: kept only
   * while `sched_switch` is listened to (unlike `lastTask`, it goes back to idle when its
   * task sleeps or ends).
   */
  traced: Task | null = null;

  constructor(id: number, node: number) {
    this.id = id;
    this.node = node;
  }
}

/** A kernel activity (kthread or user task in kernel mode) bound to one CPU. */
export class Task {
  readonly id: number;
  readonly name: string;
  readonly cpu: Cpu;
  state: TaskState = 'runnable';
  /** PF_* flags. */
  flags = 0;
  /** Spinlocks held or being spun on; sleeping with this above 0 is a bug. */
  preemptCount = 0;
  /** Set while sleeping. */
  waiting: WaitInfo | null = null;
  /** The current sleep ends on a fatal signal (TASK_KILLABLE). */
  killable = false;
  /** A fatal signal was sent (fatal_signal_pending). */
  fatalSignalPending = false;
  /** Virtual time at which a timed sleep ends. */
  wakeAt = 0;
  /** The value the body returned, once done. */
  result: unknown = undefined;
  /**
   * Runtime locks this task holds, in acquisition order (for exit checks and reports).
   * An array, not a Set: locks are mostly released last-in first-out, so a release is
   * usually a pop. Private, changed by `hold` and `release` only, which count each change
   * in `heldLocksEpoch`.
   */
  readonly #held: Resource[] = [];

  /** The runtime locks this task holds, in acquisition order (read-only: see `hold`). */
  get held(): readonly Resource[] {
    return this.#held;
  }

  /** Records that this task now holds `lock`. */
  hold(lock: Resource): void {
    heldLocksChanged();
    this.#held.push(lock);
  }

  /** Records that this task released `lock`. */
  release(lock: Resource): void {
    heldLocksChanged();
    const held = this.#held;
    const last = held.length - 1;
    if (held[last] === lock) held.pop();
    else {
      const i = held.lastIndexOf(lock);
      if (i >= 0) held.splice(i, 1);
    }
  }
  /** @internal */
  gen: KernelGen<unknown> | null = null;
  /** @internal tasks waiting in join(). */
  joiners: Task[] | null = null;
  /**
   * Depth of the declared-footprint scopes the task is in (`Runtime.enterDeclaredScope`):
   * while it is above 0, the task's code declares every shared access it makes.
   */
  declaredScope = 0;

  constructor(id: number, name: string, cpu: Cpu) {
    this.id = id;
    this.name = name;
    this.cpu = cpu;
  }

  /** `comm-pid` as ftrace prints a task. */
  toString(): string {
    return `${this.name}-${this.id}`;
  }
}
