import type { InversionReport } from '@mmsim/page-lock';
import type { DeadlockReport, MmsimErrorCode, TaskRef, TraceEvent } from '@mmsim/runtime';
import type { InvariantPhase } from './invariant.js';

/**
 * What a schedule can go wrong with:
 * - `deadlock`: no task could run while some slept (the runtime's wait-for report);
 * - `invariant`: a named invariant failed, after a step or at the end;
 * - `inversion`: the page-lock dependency checker saw a lock-order cycle (a possible
 *   deadlock even when this schedule did not deadlock);
 * - `step-limit`: the run did not end within `maxSteps` (a livelock, or a busy-wait);
 * - `crash`: a task threw an `MmsimError` (a contract violation, sleeping in atomic,
 *   a count underflow, or any exception, which the runtime wraps as `TASK_CRASHED`).
 */
export type FindingKind = 'deadlock' | 'invariant' | 'inversion' | 'step-limit' | 'crash';

/** The kind-specific part of a finding. */
export type FindingDetail =
  | { readonly kind: 'deadlock'; readonly deadlock: DeadlockReport }
  | {
      readonly kind: 'invariant';
      /** The invariant's name. */
      readonly invariant: string;
      /** What the invariant said was wrong. */
      readonly violation: string;
      /** Checked after a step, or at the end of the run. */
      readonly phase: InvariantPhase;
    }
  | { readonly kind: 'inversion'; readonly inversion: InversionReport }
  | { readonly kind: 'step-limit' }
  | {
      readonly kind: 'crash';
      readonly error: { readonly code: MmsimErrorCode; readonly message: string };
    };

/** How long and how busy a schedule is. */
export interface ScheduleShape {
  /** Scheduling steps run. */
  readonly steps: number;
  /** Points where two or more tasks could run (the runtime's count: it grows with the tasks alive). */
  readonly decisions: number;
  /**
   * The decisions a schedule must spell out: up to the last one that did not take the
   * default (keep the running task, else the lowest id); every later one takes it.
   */
  readonly explicitDecisions: number;
  /** Decisions that switched away from a task that could have gone on running. */
  readonly preemptions: number;
  /** Consecutive steps run by different tasks (across all CPUs, in step order). */
  readonly switches: number;
}

/** One scheduling step of a recorded run, for the report. */
export interface StepRecord {
  /** 1-based step number. */
  readonly step: number;
  /** The task that ran; null when the runtime did not say (a step that threw, see the README). */
  readonly task: TaskRef | null;
  /** The task was chosen at a decision (two or more could run). */
  readonly decision: boolean;
  /** ...and that choice switched away from a task that could have gone on. */
  readonly preemption: boolean;
  /** Tracepoints emitted during the step, in order. */
  readonly events: readonly TraceEvent[];
  /** Runtime locks (`task.held`) the task took, and released, in this step. */
  readonly took: readonly string[];
  readonly released: readonly string[];
  /** Locks that another task came to hold in this step: an unlock that handed them over. */
  readonly handedOver: readonly { readonly lock: string; readonly to: TaskRef }[];
  /** What the task was at the end of the step. */
  readonly outcome: 'runs' | 'sleeps' | 'timed-sleep' | 'ends' | 'crashes';
  /** Set when the task went to sleep: the kernel function and the resource. */
  readonly waitsIn?: string;
  readonly resource?: string;
  readonly heldBy?: readonly TaskRef[];
}

/** A schedule that went wrong, with everything needed to see it again. */
export type Finding = FindingDetail & {
  /** One line: what went wrong. */
  readonly message: string;
  /** The target's name. */
  readonly target: string;
  /** `replay(target, token)` runs this schedule again. */
  readonly replay: string;
  readonly seed: number;
  readonly shape: ScheduleShape;
  /** The steps of the run, when it was recorded (explore and replay record the reported finding). */
  readonly steps?: readonly StepRecord[];
};

/** The same kind of finding: same kind, and same invariant name or same crash code. */
export function sameKind(a: FindingDetail, b: FindingDetail): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'invariant' && b.kind === 'invariant') return a.invariant === b.invariant;
  if (a.kind === 'crash' && b.kind === 'crash') return a.error.code === b.error.code;
  return true;
}
