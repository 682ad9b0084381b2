import { exploreExhaustively, type Task } from '@mmsim/runtime';
import type { ExplorationTarget } from '../target.js';

/**
 * Every schedule of the target (the runtime's unbounded exhaustive search), each with its
 * number of preemptions: decisions that chose another task while the one that ran the
 * previous step could have gone on. What a preemption-bounded search must cover is the
 * schedules whose count is within its bound.
 */
export function preemptionCounts(target: ExplorationTarget): number[] {
  const counts: number[] = [];
  exploreExhaustively((inner) => {
    let previous: Task | null = null;
    let preemptions = 0;
    const instance = target.instantiate({
      runtime: {
        strategy: {
          name: 'counting',
          choose(eligible, decision) {
            const chosen = inner.choose(eligible, decision);
            if (previous !== null && eligible.includes(previous) && chosen !== previous) {
              preemptions++;
            }
            return chosen;
          },
        },
        seed: 1,
        onStep: (task) => {
          previous = task;
        },
        maxSteps: 10_000,
        meta: '',
      },
    });
    instance.rt.run();
    counts.push(preemptions);
  });
  return counts;
}
