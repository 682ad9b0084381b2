import { MmsimError } from '../errors.js';
import type { Task } from '../task.js';
import type { Strategy } from './strategy.js';

/**
 * Follows a prefix of choices (indexes into the eligible tasks, sorted by id), then takes
 * the first eligible task, recording how many were eligible at each decision so the next
 * schedule can be derived by backtracking.
 */
class PrefixStrategy implements Strategy {
  readonly name = 'exhaustive';
  readonly choices: number[];
  readonly widths: number[] = [];

  constructor(prefix: readonly number[]) {
    this.choices = [...prefix];
  }

  choose(eligible: readonly Task[], decision: number): Task {
    const index = decision < this.choices.length ? (this.choices[decision] as number) : 0;
    if (decision >= this.choices.length) this.choices.push(0);
    const task = eligible[index];
    if (task === undefined) {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        `exhaustive exploration: decision ${decision + 1} had ${eligible.length} choices where an ` +
          'earlier run had more; the program under test is not deterministic',
      );
    }
    this.widths[decision] = eligible.length;
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
 * re-runs the program from the start). `runOnce` must build a fresh runtime with the
 * strategy it is given, run it, and check what it wants; the program must be
 * deterministic apart from the schedule. Every distinct sequence of choices at the
 * decisions is tried once.
 */
export function exploreExhaustively(
  runOnce: (strategy: Strategy) => void,
  options: ExhaustiveOptions = {},
): ExhaustiveResult {
  const max = options.maxSchedules ?? 100_000;
  let prefix: number[] = [];
  let schedules = 0;
  for (;;) {
    if (schedules >= max) return { schedules, complete: false };
    const strategy = new PrefixStrategy(prefix);
    runOnce(strategy);
    schedules++;
    // Backtrack: the deepest decision with an untried alternative.
    const { choices, widths } = strategy;
    let i = widths.length - 1;
    while (i >= 0 && (choices[i] as number) + 1 >= (widths[i] as number)) i--;
    if (i < 0) return { schedules, complete: true };
    prefix = choices.slice(0, i + 1);
    prefix[i] = (prefix[i] as number) + 1;
  }
}
