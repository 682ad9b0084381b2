import { MmsimError } from '../errors.js';
import type { Task } from '../task.js';
import { type DecisionAlternatives, DepthFirstSchedules } from './depth-first.js';
import type { Strategy } from './strategy.js';

/**
 * Follows a prefix of choices (task ids), then takes the lowest-id eligible task, recording
 * what could run at each decision so the enumerator can backtrack.
 */
class PrefixStrategy implements Strategy {
  readonly name = 'exhaustive';
  readonly #prefix: readonly number[];
  readonly choices: number[] = [];
  readonly decisions: DecisionAlternatives[] = [];

  constructor(prefix: readonly number[]) {
    this.#prefix = prefix;
  }

  choose(eligible: readonly Task[], decision: number): Task {
    let task = eligible[0] as Task;
    if (decision < this.#prefix.length) {
      const id = this.#prefix[decision] as number;
      const listed = eligible.find((t) => t.id === id);
      if (listed === undefined) {
        throw new MmsimError(
          'REPLAY_DIVERGED',
          `exhaustive exploration: at decision ${decision + 1} task ${id} could not run, but it ` +
            'could in an earlier run; the program under test is not deterministic',
        );
      }
      task = listed;
    }
    this.decisions.push({ order: eligible.map((t) => t.id), spentBefore: 0, cost: 0 });
    this.choices.push(task.id);
    return task;
  }
}

export interface ExhaustiveOptions {
  /** Stop after this many schedules. Default 100 000. */
  readonly maxSchedules?: number;
}

export interface ExhaustiveResult {
  /** Schedules run. */
  readonly schedules: number;
  /** True when every schedule was run (the bound was not hit). */
  readonly complete: boolean;
}

/**
 * Runs every schedule of a program, depth first (stateless model checking: each schedule
 * re-runs the program from the start), with `DepthFirstSchedules` unbounded. `runOnce`
 * must build a fresh runtime with the strategy it is given, run it, and check what it
 * wants; the program must be deterministic apart from the schedule. Every distinct
 * sequence of choices at the decisions is tried once.
 */
export function exploreExhaustively(
  runOnce: (strategy: Strategy) => void,
  options: ExhaustiveOptions = {},
): ExhaustiveResult {
  const max = options.maxSchedules ?? 100_000;
  const schedules = new DepthFirstSchedules();
  let runs = 0;
  for (;;) {
    const prefix = schedules.next;
    if (prefix === null) return { schedules: runs, complete: true };
    if (runs >= max) return { schedules: runs, complete: false };
    const strategy = new PrefixStrategy(prefix);
    runOnce(strategy);
    runs++;
    schedules.advance(strategy.choices, strategy.decisions);
  }
}
