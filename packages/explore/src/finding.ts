import type {
  DeadlockReport,
  InvariantPhase,
  MmsimErrorCode,
  TaskRef,
  TraceEvent,
} from '@mmsim/runtime';
import type { CheckKind, CheckKinds } from './check.js';

/**
 * What a schedule can go wrong with:
 * - `deadlock`: no task could run while some slept (the runtime's wait-for report);
 * - `invariant`: a named invariant failed, after a step or at the end;
 * - `step-limit`: the run did not end within `maxSteps` (a livelock, or a busy-wait);
 * - `crash`: a task threw an `MmsimError` (a contract violation, sleeping in atomic,
 *   a count underflow, or any exception, which the runtime wraps as `TASK_CRASHED`);
 * - a kind of the target's checks (see `CheckKinds`), such as the scenarios' `inversion`.
 */
export type FindingKind = 'deadlock' | 'invariant' | 'step-limit' | 'crash' | CheckKind;

/** The detail of a finding a target's check reported (see `Check`). */
export type CheckFindingDetail = {
  readonly [K in CheckKind]: {
    readonly kind: K;
    /** The check's name. */
    readonly check: string;
    /** The check's report, as `formatFinding` prints it. */
    readonly detail: string;
    /** The check's own record of the problem. */
    readonly data: CheckKinds[K];
  };
}[CheckKind];

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
  | { readonly kind: 'step-limit' }
  | {
      readonly kind: 'crash';
      readonly error: { readonly code: MmsimErrorCode; readonly message: string };
    }
  | CheckFindingDetail;

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

/**
 * The same kind of finding: same kind, and same invariant name or same crash code (any
 * deadlock, step limit, or finding of one check kind).
 */
export function sameKind(a: FindingDetail, b: FindingDetail): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'invariant' && b.kind === 'invariant') return a.invariant === b.invariant;
  if (a.kind === 'crash' && b.kind === 'crash') return a.error.code === b.error.code;
  return true;
}
