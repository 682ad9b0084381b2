import type { RandomStream, Strategy, Task } from '@mmsim/runtime';
import type { ScheduleTracker } from '../schedule-tracker.js';

/**
 * Runs a runtime strategy (random, PCT) and tells the tracker what it chose. It decides
 * anywhere (`Strategy.choosesAnywhere`) when the strategy it runs does: besides its
 * arguments it reads only the tracker, which the runtime's step hook (`runSchedule`'s
 * `onStep`) has told of the step that ended before any decision, at a virtual step as at
 * a round; and the tracker's `decide` does not throw.
 */
export class TrackedStrategy implements Strategy {
  readonly name: string;
  readonly choosesAnywhere: boolean;
  readonly #inner: Strategy;
  readonly #tracker: ScheduleTracker;

  constructor(inner: Strategy, tracker: ScheduleTracker) {
    this.name = inner.name;
    this.choosesAnywhere = inner.choosesAnywhere === true;
    this.#inner = inner;
    this.#tracker = tracker;
  }

  init(rng: RandomStream): void {
    this.#inner.init?.(rng);
  }

  onSpawn(task: Task): void {
    this.#inner.onSpawn?.(task);
  }

  choose(eligible: readonly Task[], decision: number): Task {
    const chosen = this.#inner.choose(eligible, decision);
    this.#tracker.decide(eligible, chosen);
    return chosen;
  }

  finish(): void {
    this.#inner.finish?.();
  }
}
