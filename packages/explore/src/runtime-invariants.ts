import {
  type Cpu,
  endInvariant,
  heldLocksEpoch,
  type Invariant,
  Mutex,
  OwnedLock,
  type Resource,
  type Runtime,
  RwSemaphore,
  Spinlock,
  type Task,
} from '@mmsim/runtime';

/** Every task ended, and none left a runtime lock held or preemption disabled. */
export const QUIESCENT_AT_END = 'quiescent-at-end';
/** Every runtime lock a task lists as held names that task among its holders. */
export const HELD_LOCKS_CONSISTENT = 'held-locks-consistent';

/** Names of the invariants `runtimeInvariants` returns. */
export const RUNTIME_INVARIANT_NAMES: readonly string[] = [QUIESCENT_AT_END, HELD_LOCKS_CONSISTENT];

function describe(task: Task): string {
  return `${task.name}-${task.id}`;
}

/**
 * Whether `task` is among the holders of `lock`. Checked after every step for every lock
 * held: a spinlock's or mutex's one owner, and an rwsem's writer or readers (its
 * `holders()`: the writer if any, else the readers), are read without the array
 * `holders()` makes.
 */
function holds(lock: Resource, task: Task): boolean {
  if (lock instanceof OwnedLock) return lock.owner === task;
  if (lock instanceof RwSemaphore) {
    return lock.writer !== null ? lock.writer === task : lock.holdsRead(task);
  }
  return lock.holders().includes(task);
}

/**
 * Whether every holder `lock` reports is counted by `heldLocksEpoch`: an instance of
 * exactly `Spinlock`, `Mutex` or `RwSemaphore` (a subclass may keep holder state of its
 * own, and any other resource says who holds it by whatever it likes).
 */
function counted(lock: Resource): boolean {
  const proto: unknown = Object.getPrototypeOf(lock);
  return (
    proto === Spinlock.prototype || proto === Mutex.prototype || proto === RwSemaphore.prototype
  );
}

/**
 * The invariants any target that exposes a runtime gets from the explorer (disable them
 * by name). They hold for a correct runtime and correct primitives; a custom lock or a
 * scenario that leaves work behind breaks them.
 */
export function runtimeInvariants(rt: Runtime): Invariant[] {
  const quiescent = endInvariant(QUIESCENT_AT_END, () => {
    // Indexed loops, and the list of problems made at the first one: this runs at the end
    // of every schedule, and passes (a `for...of` allocates an iterator and its results).
    let problems: string[] | null = null;
    const tasks = rt.tasks;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i] as Task;
      if (task.state === 'sleeping' && task.waiting !== null) {
        problems ??= [];
        problems.push(
          `${describe(task)} sleeps in ${task.waiting.waitsIn} on ${task.waiting.resource.name}`,
        );
      } else if (task.state !== 'done') {
        problems ??= [];
        problems.push(`${describe(task)} is still ${task.state}`);
      }
      if (task.held.length > 0) {
        problems ??= [];
        problems.push(`${describe(task)} holds ${task.held.map((r) => r.name).join(', ')}`);
      }
      if (task.preemptCount > 0) {
        problems ??= [];
        problems.push(`${describe(task)} has preempt_count ${task.preemptCount}`);
      }
    }
    const cpus = rt.cpus;
    for (let i = 0; i < cpus.length; i++) {
      const cpu = cpus[i] as Cpu;
      const atomic = cpu.atomicTask;
      if (atomic !== null) {
        problems ??= [];
        problems.push(`cpu ${cpu.id} still runs ${describe(atomic)} with preemption off`);
      }
    }
    return problems === null ? null : `all tasks finished, but ${problems.join('; ')}`;
  });
  // The walk is skipped while nothing it reads can have changed since the last walk that
  // passed: `heldLocksEpoch` has not moved (no task's list and no counted lock's holders
  // changed; tasks spawned since list nothing), and no task listed a lock the epoch does
  // not cover (then every check walks, to the end of the run). About one step in eight
  // takes or releases a lock in the scenarios.
  let passedAt = -1;
  let uncounted = false;
  // A step invariant (checked after every step and at the end, whatever the phase) written
  // out, not through `stepInvariant`: its wrapper, shared by every step invariant, calls
  // many closures from one site, so the explorer's call after each step took two calls.
  const consistent: Invariant = {
    name: HELD_LOCKS_CONSISTENT,
    check: () => {
      const epoch = heldLocksEpoch();
      if (epoch === passedAt && !uncounted) return null;
      // Indexed loops: this runs after every step that changed a lock's holders.
      const tasks = rt.tasks;
      for (let i = 0; i < tasks.length; i++) {
        const task = tasks[i] as Task;
        const held = task.held;
        for (let j = 0; j < held.length; j++) {
          const lock = held[j] as Resource;
          if (!uncounted && !counted(lock)) uncounted = true;
          if (!holds(lock, task)) {
            const holders = lock.holders().map(describe).join(', ') || 'nobody';
            return `${describe(task)} lists ${lock.name} as held, but its holders are ${holders}`;
          }
        }
      }
      passedAt = epoch;
      return null;
    },
  };
  return [quiescent, consistent];
}
