import { explore } from '../explore.js';
import type { ExplorationTarget } from '../target.js';
import { preemptionCounts } from './preemption-counts.js';

/** What `checkPreemptionBound` found. */
export interface PreemptionBoundCheck {
  /** One line per bound at which the DFS ran the wrong schedules; empty when all held. */
  readonly violations: readonly string[];
  /** The most preemptions any schedule of the target has (0: the bound cuts nothing). */
  readonly mostPreemptions: number;
}

/**
 * Checks the preemption-bounded DFS against the unbounded enumeration: for every bound from
 * 0 to one past the most preemptions any schedule has, the DFS must run exactly the
 * schedules with at most that many preemptions, then stop as exhausted. `disable` names
 * checks and invariants to leave off (the DFS must run every schedule, not stop at a
 * finding).
 */
export function checkPreemptionBound(
  target: ExplorationTarget,
  options: { readonly disable?: readonly string[] } = {},
): PreemptionBoundCheck {
  const counts = preemptionCounts(target);
  const mostPreemptions = Math.max(...counts);
  const violations: string[] = [];
  for (let bound = 0; bound <= mostPreemptions + 1; bound++) {
    const expected = counts.filter((c) => c <= bound).length;
    const result = explore(target, {
      strategy: { kind: 'dfs', preemptionBound: bound },
      stopOnFirst: false,
      shrink: false,
      ...(options.disable === undefined ? {} : { disable: options.disable }),
    });
    if (result.schedules !== expected) {
      violations.push(`bound ${bound}: ran ${result.schedules} schedules, expected ${expected}`);
    }
    if (!result.exhausted || result.stoppedBy !== 'exhausted') {
      violations.push(`bound ${bound}: stopped by ${result.stoppedBy}, not exhausted`);
    }
  }
  return { violations, mostPreemptions };
}
