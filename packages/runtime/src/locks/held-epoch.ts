/**
 * A process-wide count of changes to who holds the runtime's locks. It moves whenever a
 * task's list of held locks (`Task.hold`, `Task.release`) changes, and whenever the holder
 * state of a `Spinlock` or `Mutex` (`owner`) or of an `RwSemaphore` (`writer`) is written,
 * through its methods or straight at the property (both are accessors that count the
 * write). An rwsem's readers are private and change with a `hold` or `release` of the task,
 * or, on a downgrade, with the write to `writer` that comes first.
 *
 * So while it has not moved, every task lists the same locks and every lock of those three
 * classes (exactly those: a subclass may keep holder state of its own) has the same
 * holders: a check of the held lists against the holders that passed still passes, and can
 * be skipped. Other resources a task lists say who holds them by whatever they like, and
 * must be read again. Shared by every runtime (a change in another machine only costs a
 * needless walk); kept below 2^30 so that it stays a small integer: a skip could be wrong
 * only after a multiple of 2^30 changes between two checks.
 */
let epoch = 0;

/** @internal Counts one change of who holds a runtime lock (see `heldLocksEpoch`). */
export function heldLocksChanged(): void {
  epoch = (epoch + 1) & 0x3fff_ffff;
}

/**
 * The count of changes to the runtime's held-lock lists and lock holders so far: equal at
 * two moments means that no task's list of held locks and no holder of a `Spinlock`,
 * `Mutex` or `RwSemaphore` (instances of exactly those classes) changed in between.
 */
export function heldLocksEpoch(): number {
  return epoch;
}
