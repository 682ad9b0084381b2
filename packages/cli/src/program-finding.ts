import type { Kernel } from '@mmsim/kernel';
import { formatExpectationFailure, programLedgerIfAny } from '@mmsim/syscalls';

/**
 * The `expectation` finding of `mmsim run`: the first failed expectation of the machine's
 * programs (a step's `expect`), with the step, the expected and the actual values; null
 * when every expectation held or no program ran.
 */
export function programExpectationFinding(kernel: Kernel): {
  readonly kind: 'expectation';
  readonly message: string;
  readonly report: string;
} | null {
  const failures = programLedgerIfAny(kernel)?.failures ?? [];
  const first = failures[0];
  if (first === undefined) return null;
  const more = failures.length - 1;
  return {
    kind: 'expectation',
    message:
      first.field === 'assertion'
        ? `${first.process} ${first.thread} ${first.step}: ${first.message}`
        : `${first.process} ${first.thread} ${first.step} ${first.call}: ${first.field} expected ${JSON.stringify(first.expected)}, got ${JSON.stringify(first.actual)}`,
    report: `${formatExpectationFailure(first)}${more > 0 ? `\n${more} more failed expectation(s)` : ''}`,
  };
}
