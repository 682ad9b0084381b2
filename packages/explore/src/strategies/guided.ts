import { MmsimError, type Strategy, type Task } from '@mmsim/runtime';
import type { ScheduleTracker } from '../schedule-tracker.js';

/** In a guided schedule, "take the default here": keep the running task, else the lowest id. */
export const DEFAULT_CHOICE = 0;

/**
 * How a guided schedule treats its list of choices:
 * - `replay`: exactly the recorded run; a listed task that cannot run, or a run that needs
 *   more decisions than listed, throws `REPLAY_DIVERGED`;
 * - `prefix` (bounded DFS): the listed choices must be possible, then the default;
 * - `lenient` (shrinking): a listed task that cannot run, `DEFAULT_CHOICE`, or the end of
 *   the list takes the default, so any edited list still gives a run.
 */
export type GuidedMode = 'replay' | 'prefix' | 'lenient';

/** Follows a list of task ids, one per decision, and tells the tracker what it chose. */
export class GuidedStrategy implements Strategy {
  readonly name: string;
  readonly #choices: readonly number[];
  readonly #mode: GuidedMode;
  readonly #tracker: ScheduleTracker;
  #next = 0;

  constructor(
    name: string,
    choices: readonly number[],
    mode: GuidedMode,
    tracker: ScheduleTracker,
  ) {
    this.name = name;
    this.#choices = choices;
    this.#mode = mode;
    this.#tracker = tracker;
  }

  /** True when every listed choice was used. */
  get exhausted(): boolean {
    return this.#next >= this.#choices.length;
  }

  choose(eligible: readonly Task[], decision: number): Task {
    let chosen: Task | undefined;
    if (this.#next < this.#choices.length) {
      const id = this.#choices[this.#next++] as number;
      chosen = id === DEFAULT_CHOICE ? undefined : eligible.find((t) => t.id === id);
      if (chosen === undefined && this.#mode !== 'lenient') {
        throw new MmsimError(
          'REPLAY_DIVERGED',
          `decision ${decision + 1}: the schedule chose task ${id}, but only ` +
            `${eligible.map(String).join(', ')} can run; the target is not deterministic, ` +
            'or the token was recorded on another target or with other options',
        );
      }
    } else if (this.#mode === 'replay') {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        `the run needs decision ${decision + 1} but the token recorded only ${decision}; ` +
          'replay on the same target with the same invariants',
      );
    }
    chosen ??= this.#tracker.defaultChoice(eligible);
    this.#tracker.decide(eligible, chosen);
    return chosen;
  }
}
