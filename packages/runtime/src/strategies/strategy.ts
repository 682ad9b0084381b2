import type { RandomStream } from '../random.js';
import type { Task } from '../task.js';

/**
 * Chooses which task moves at a scheduling point. It is asked only at a decision: a point
 * where two or more tasks could run (a single runnable task just runs).
 */
export interface Strategy {
  readonly name: string;
  /** Called once, before the first decision, with the run's schedule stream. */
  init?(rng: RandomStream): void;
  /** Called for every task the run creates, in creation order. */
  onSpawn?(task: Task): void;
  /**
   * Returns one of `eligible` (two or more tasks, sorted by id). `decision` counts the
   * decisions made so far in this run.
   */
  choose(eligible: readonly Task[], decision: number): Task;
  /**
   * True when `choose` reads only its arguments and the strategy's own state, and never
   * throws: the runtime may then ask it at a virtual step (`Runtime.virtualStep`), before
   * the running task suspends, with exactly the arguments the next scheduling round would
   * pass. Absent: decisions are only made between steps.
   */
  readonly choosesAnywhere?: boolean;
  /** Called when the run ends, however it ends. */
  finish?(): void;
}
