import type { RandomStream } from '../random.js';
import type { Task } from '../task.js';
import type { Strategy } from './strategy.js';

/** Uniformly random choice at every decision, from the schedule stream. */
export class RandomStrategy implements Strategy {
  readonly name = 'random';
  readonly choosesAnywhere = true;
  #rng: RandomStream | null = null;

  init(rng: RandomStream): void {
    this.#rng = rng;
  }

  choose(eligible: readonly Task[]): Task {
    const rng = this.#rng;
    if (rng === null) return eligible[0] as Task;
    return eligible[rng.int(0, eligible.length - 1)] as Task;
  }
}
