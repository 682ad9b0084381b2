import { MmsimError } from '../errors.js';
import type { Task } from '../task.js';
import type { Strategy } from './strategy.js';

/** Chooses, at every decision, the task a recorded run chose there. */
export class ReplayStrategy implements Strategy {
  readonly name = 'replay';
  readonly #pairs: readonly number[];
  #pair = 0;
  #usedInPair = 0;

  constructor(pairs: readonly number[]) {
    this.#pairs = pairs;
  }

  choose(eligible: readonly Task[], decision: number): Task {
    const id = this.#pairs[this.#pair];
    if (id === undefined) {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        `the run needs decision ${decision + 1} but the token recorded only ${decision}; ` +
          'replay with the same scenario, variant and configuration that produced it',
      );
    }
    const task = eligible.find((t) => t.id === id);
    if (task === undefined) {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        `decision ${decision + 1}: the token chose task ${id}, but only ` +
          `${eligible.map(String).join(', ')} can run; the token belongs to another run`,
      );
    }
    if (++this.#usedInPair === this.#pairs[this.#pair + 1]) {
      this.#pair += 2;
      this.#usedInPair = 0;
    }
    return task;
  }

  /** True when every recorded decision was used. */
  get exhausted(): boolean {
    return this.#pair >= this.#pairs.length;
  }
}
