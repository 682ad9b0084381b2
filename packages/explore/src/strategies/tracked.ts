import type { RandomStream, Strategy, Task } from '@mmsim/runtime';
import type { ScheduleTracker } from '../schedule-tracker.js';

/** Runs a runtime strategy (random, PCT) and tells the tracker what it chose. */
export class TrackedStrategy implements Strategy {
  readonly name: string;
  readonly #inner: Strategy;
  readonly #tracker: ScheduleTracker;

  constructor(inner: Strategy, tracker: ScheduleTracker) {
    this.name = inner.name;
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
