import type { Check } from '@mmsim/explore';
import { formatInversion, type InversionReport } from '@mmsim/page-lock';

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
      if (report === undefined) return null;
      const classes = report.cycle.map((e) => e.from);
      return {
        kind: 'inversion',
        message: `page-lock inversion: ${[...classes, classes[0]].join(' -> ')}`,
        detail: formatInversion(report),
        data: report,
      };
    },
  };
}
