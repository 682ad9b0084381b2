import type { Runtime, Task } from '@mmsim/runtime';
import type { StepRecord } from './finding.js';
import type { ScheduleTracker } from './schedule-tracker.js';
import { StepRecordBuilder } from './step-record-builder.js';

/**
 * Records every step of an explored run for its finding, marking the steps the explorer
 * chose at a decision (and the preemptions) as the schedule tracker saw them.
 */
export class StepRecorder {
  readonly steps: StepRecord[] = [];
  readonly #builder: StepRecordBuilder;

  constructor(rt: Runtime) {
    this.#builder = new StepRecordBuilder(rt);
  }

  /** Called from `onStep` before the tracker learns of the step. */
  stepped(task: Task, step: number, tracker: ScheduleTracker): void {
    const decision = tracker.pending === task;
    this.steps.push(
      this.#builder.record(task, step, decision, decision && tracker.pendingPreempts),
    );
  }

  /** The step that threw (`task` as `ScheduleTracker.crashedTask` guessed it). */
  crashed(task: Task | null, step: number, tracker: ScheduleTracker): void {
    const decision = task !== null && tracker.pending === task;
    this.steps.push(
      this.#builder.crashed(task, step, decision, decision && tracker.pendingPreempts),
    );
  }
}
