/** The choices there were at one decision of a schedule, as depth-first enumeration needs them. */
export interface DecisionAlternatives {
  /** Ids of the tasks that could run, in the order they are tried: the default first. */
  readonly order: readonly number[];
  /** Bound units (preemptions) the schedule had spent before this decision. */
  readonly spentBefore: number;
  /** What any choice other than the default costs: 1 for a preemption, else 0. */
  readonly cost: number;
}

/**
 * Depth-first enumeration of schedules, stateless (each schedule re-runs the program from
 * the start, following a prefix of choices and then the default at every later decision).
 * After a schedule, `advance` backtracks to the deepest decision with an untried
 * alternative whose cost keeps the schedule within `bound`; when none is left, `next` is
 * null and the (bounded) space is exhausted.
 *
 * With `bound` Infinity every distinct sequence of choices is run once (complete
 * enumeration, `exploreExhaustively`). With a preemption bound and the running task as
 * the default, it is CHESS's iterative context bounding (Musuvathi and Qadeer, PLDI 2007),
 * which the explorer's `dfs` strategy uses.
 */
export class DepthFirstSchedules {
  readonly bound: number;
  #next: readonly number[] | null = [];

  constructor(bound = Number.POSITIVE_INFINITY) {
    this.bound = bound;
  }

  /** The choices (task ids) the next schedule must start with, or null when exhausted. */
  get next(): readonly number[] | null {
    return this.#next;
  }

  /** Backtracks from the schedule just run: its choices and the alternatives at each. */
  advance(choices: readonly number[], decisions: readonly DecisionAlternatives[]): void {
    for (let i = decisions.length - 1; i >= 0; i--) {
      const at = decisions[i] as DecisionAlternatives;
      if (at.spentBefore + at.cost > this.bound) continue;
      const tried = at.order.indexOf(choices[i] as number);
      const alternative = at.order[tried + 1];
      if (alternative === undefined) continue;
      this.#next = [...choices.slice(0, i), alternative];
      return;
    }
    this.#next = null;
  }
}
