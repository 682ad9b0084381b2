import type { ScheduleTracker } from '../schedule-tracker.js';

/**
 * Preemption-bounded depth-first enumeration of schedules (CHESS: Musuvathi and Qadeer,
 * "Iterative Context Bounding for Systematic Testing of Multithreaded Programs", PLDI
 * 2007). Stateless: each schedule re-runs the target from the start, following a prefix
 * of choices and then the default (keep the running task). At every decision the
 * alternatives are tried in the order default first, then the others by id; a choice
 * other than the default while the running task could go on is a preemption, and no
 * schedule makes more than `bound` of them. Each schedule within the bound is run once;
 * when none is left, the bounded space is exhausted.
 *
 * Use: run a `GuidedStrategy` in `prefix` mode on `next` with a tracker that keeps
 * alternatives, then `advance(tracker)`, until `next` is null.
 */
export class BoundedDfs {
  readonly bound: number;
  #next: readonly number[] | null = [];

  constructor(bound: number) {
    this.bound = bound;
  }

  /** The choices the next schedule must start with, or null when the space is exhausted. */
  get next(): readonly number[] | null {
    return this.#next;
  }

  /** Backtracks from the schedule just run: the deepest decision with an untried alternative. */
  advance(tracker: ScheduleTracker): void {
    const alternatives = tracker.alternatives;
    if (alternatives === null)
      throw new Error('BoundedDfs needs a tracker that keeps alternatives');
    const choices = tracker.choices;
    for (let i = alternatives.length - 1; i >= 0; i--) {
      const at = alternatives[i]!;
      const cost = at.canContinue ? 1 : 0;
      if (at.preemptionsBefore + cost > this.bound) continue;
      const order = [at.defaultId, ...at.eligible.filter((id) => id !== at.defaultId)];
      const tried = order.indexOf(choices[i]!);
      const alternative = order[tried + 1];
      if (alternative === undefined) continue;
      this.#next = [...choices.slice(0, i), alternative];
      return;
    }
    this.#next = null;
  }
}
