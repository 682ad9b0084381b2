import type { Task } from '../task.js';
import type { Strategy } from './strategy.js';

/**
 * Discrete-event timing: the task whose CPU clock is furthest behind runs next (lowest id
 * on ties), so the interleaving follows the cost model's virtual time.
 */
export class LowestClockStrategy implements Strategy {
  readonly name = 'lowest-clock';
  readonly choosesAnywhere = true;

  choose(eligible: readonly Task[]): Task {
    let best = eligible[0] as Task;
    for (let i = 1; i < eligible.length; i++) {
      const t = eligible[i] as Task;
      if (t.cpu.clock < best.cpu.clock) best = t;
    }
    return best;
  }
}
