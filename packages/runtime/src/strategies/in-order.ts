import type { Task } from '../task.js';
import type { Strategy } from './strategy.js';

/**
 * The lowest task id that can run, runs: each task goes until it sleeps or ends. The
 * schedule a reader expects from the code order, and the baseline the other strategies
 * are compared against.
 */
export class InOrderStrategy implements Strategy {
  readonly name = 'in-order';
  readonly choosesAnywhere = true;

  choose(eligible: readonly Task[]): Task {
    return eligible[0] as Task;
  }
}
