import type { Check, CheckViolation } from '@mmsim/explore';
import { type DependencyChecker, formatInversion, type InversionReport } from '@mmsim/page-lock';

declare module '@mmsim/explore' {
  interface CheckKinds {
    /** The page-lock dependency checker saw a lock-order cycle: a possible deadlock. */
    inversion: InversionReport;
  }
}

/** The name under which the page-lock inversion check can be disabled. */
export const INVERSION_CHECK = 'page-lock-inversion';

/**
 * The page-lock dependency checker as an explorer check: after every step, the first
 * inversion it reported (a lock-order cycle, a possible deadlock even when this schedule
 * did not deadlock) becomes an `inversion` finding, reported with `formatInversion`.
 * `reports` returns the checker's reports so far (empty when it is off).
 */
export function pageLockInversionCheck(reports: () => readonly InversionReport[]): Check {
  return {
    name: INVERSION_CHECK,
    check() {
      const report = reports()[0];
      return report === undefined ? null : inversionViolation(report);
    },
  };
}

/**
 * `pageLockInversionCheck` over a machine's checker as it was built (`Kernel.checker`,
 * which a machine keeps for its life): the checker's own list read after each step, with
 * no function in between, and, when the checker is off, a check that has nothing to read
 * (its list would stay empty). An explorer builds one per schedule and calls it after
 * every step. @internal
 */
export function checkerInversionCheck(checker: DependencyChecker | null): Check {
  if (checker === null) return { name: INVERSION_CHECK, check: () => null };
  return {
    name: INVERSION_CHECK,
    check() {
      const report = checker.reports[0];
      return report === undefined ? null : inversionViolation(report);
    },
  };
}

/** The `inversion` finding for the checker's first report. */
function inversionViolation(report: InversionReport): CheckViolation {
  const classes = report.cycle.map((e) => e.from);
  return {
    kind: 'inversion',
    message: `page-lock inversion: ${[...classes, classes[0]].join(' -> ')}`,
    detail: formatInversion(report),
    data: report,
  };
}
