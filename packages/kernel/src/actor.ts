import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';

/**
 * A scenario actor: one kernel activity, written as a task in the kernel's style (a
 * generator; `yield` where another CPU may interleave, `yield*` into what may sleep), bound
 * to a CPU. `models` names the kernel code path it stands for (functions, file, version),
 * so a report can say what each task was.
 */
export interface Actor {
  /** The task's comm. */
  readonly name: string;
  /** The CPU it runs on. */
  readonly cpu: number;
  /** The kernel code path it stands for, e.g. `write_cache_pages (mm/page-writeback.c, 6.3)`. */
  readonly models: string;
  /** Filled with the task when the kernel spawns the actor, for actors that hand work to it. */
  readonly slot?: TaskSlot;
  /**
   * The body declares every access to shared state it makes (runtime locks and wait
   * queues, `Runtime.touch` / `touchKernel`, or code that does, such as `filemapLockFolio`
   * with the kernel's own parts), and brackets any other call with
   * `Runtime.suspendDeclaredScope` / `resumeDeclaredScope`: its task starts inside a
   * declared-footprint scope, so partial-order reduction can find its steps independent
   * of others. Default false: every step of the task is dependent with every step.
   */
  readonly declaresFootprints?: boolean;
  /** The task body. It must end for a run to complete. */
  body(task: Task): KernelGen<unknown>;
}

/**
 * Something an actor needs once the run has started: the task of another actor (the loop
 * worker a filesystem hands its I/O to), set when that actor is spawned.
 */
export class TaskSlot {
  #task: Task | null = null;
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  /** The task; throws if the actor has not been spawned yet. */
  get task(): Task {
    if (this.#task === null) {
      throw new MmsimError('INVALID_STATE', `${this.name} has not been spawned yet`);
    }
    return this.#task;
  }

  get spawned(): boolean {
    return this.#task !== null;
  }

  /** @internal set by the kernel when it spawns the actor. */
  set(task: Task): void {
    this.#task = task;
  }
}
