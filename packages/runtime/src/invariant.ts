import type { RunResult } from './runtime.js';

/** When an invariant is checked: after every scheduling step, or once when the run completes. */
export type InvariantPhase = 'step' | 'end';

/**
 * A named property of a machine's state. `check` returns null when it holds, else a message
 * that says what is wrong. Throwing counts as a violation with the error's message. End
 * checks run only when the run completes (a deadlock or a step limit is reported as such).
 * It lives in the runtime so that models (which write invariants) and the explorer (which
 * checks them) share one type without depending on each other.
 */
export interface Invariant {
  readonly name: string;
  check(phase: InvariantPhase, result?: RunResult): string | null;
  /**
   * True when `check` holds (returns null) at every step, whatever the state: an explorer
   * then calls it only at the end. `endInvariant` sets it.
   */
  readonly endOnly?: boolean;
  /**
   * Set (with `checkDue`) by an invariant whose step check works on every `stepStride`-th
   * call only: `check('step')` counts its calls and answers null on the others without
   * reading anything, and on the stride-th runs `checkDue('step')`. An explorer that calls
   * `check('step')` after each step may instead call `checkDue('step')` on its step checks
   * number `stepStride`, 2 × `stepStride`, ... and nothing on the others: the same answers
   * at the same steps, with no call on the skipped ones. A positive integer.
   */
  readonly stepStride?: number;
  /** The check `check` runs on a due call (see `stepStride`), without counting. */
  checkDue?(phase: InvariantPhase, result?: RunResult): string | null;
}

/** An invariant checked after every step (and at the end of a completed run). */
export function stepInvariant(name: string, holds: () => string | null): Invariant {
  return { name, check: () => holds() };
}

/** An invariant checked once, when the run completes. */
export function endInvariant(name: string, holds: (result: RunResult) => string | null): Invariant {
  return {
    name,
    check: (phase, result) => (phase === 'end' && result !== undefined ? holds(result) : null),
    endOnly: true,
  };
}
