import type { Check } from '@mmsim/explore';
import type { Kernel } from '@mmsim/kernel';
import {
  type ExpectationFailure,
  formatExpectationFailure,
  programLedgerIfAny,
} from '@mmsim/syscalls';

/** What an `expectation` finding carries: the first failed expectation of a program. */
export interface ExpectationFindingData {
  /** The failed expectation: step (process, pid, thread, step, call), field, expected, actual. */
  readonly failure: Omit<ExpectationFailure, 'error'>;
  /** The scheduling step (1-based) after which the explorer saw it. */
  readonly step: number;
  /** Further failed expectations of the run so far, after the first. */
  readonly more: number;
}

declare module '@mmsim/explore' {
  interface CheckKinds {
    /**
     * A program's expectation did not hold: a step's `expect` (return value, errno,
     * status...) or an assertion its TypeScript body threw.
     */
    expectation: ExpectationFindingData;
  }
}

/** The name under which the expectation check can be disabled. */
export const EXPECTATION_CHECK = 'program-expectations';

/**
 * The failed expectations of the programs on a machine (`@mmsim/syscalls`' ledger) as an
 * explorer check: the first one becomes an `expectation` finding, in the step where it
 * happened. Programs' TypeScript assertions are recorded rather than thrown while the check
 * runs (the ledger's mode `record`), so they are findings of this kind too.
 */
export function expectationCheck(k: Kernel): Check {
  let steps = 0;
  // Made by the scenario's build, before the run: from now on assertions are recorded.
  const built = programLedgerIfAny(k);
  if (built !== null) built.mode = 'record';
  // A machine's ledger, once made, stays its ledger (`programLedger` makes it on first
  // use and never replaces it): looked up per step only until it exists.
  let ledger = built;
  return {
    name: EXPECTATION_CHECK,
    check() {
      steps++;
      if (ledger === null) {
        ledger = programLedgerIfAny(k);
        if (ledger === null) return null;
      }
      const first = ledger.failures[0];
      if (first === undefined) return null;
      const { error: _e, ...failure } = first;
      const data: ExpectationFindingData = {
        failure,
        step: steps,
        more: ledger.failures.length - 1,
      };
      return {
        kind: 'expectation',
        message: `expectation failed: ${first.process} ${first.thread} ${first.step} ${first.call}: ${first.field === 'assertion' ? first.message : `${first.field} expected ${JSON.stringify(first.expected)}, got ${JSON.stringify(first.actual)}`}`,
        detail: formatExpectationFailure(first),
        data,
      };
    },
  };
}
