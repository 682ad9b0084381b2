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
