import type { Check } from '@mmsim/explore';
import type { Kernel } from '@mmsim/kernel';
import { DriverContractError, type DriverErrorRecord } from '@mmsim/migrate';
import type { MmsimErrorCode } from '@mmsim/runtime';

/** What a `driver` finding carries: the driver error the migrate core caught and undid. */
export interface DriverFindingData {
  readonly driver: string;
  /** The kernel name of the callback: `isolate_page`, `migrate_page` or `putback_page`. */
  readonly callback: string;
  readonly folio: number;
  /** The task that called the driver, or null. */
  readonly task: string | null;
  /** The scheduling step (1-based) in which it happened. */
  readonly step: number;
  /** Whether the driver was attached with `stopOnDriverError` (the run ended there). */
  readonly stop: boolean;
  /** The typed error: its class (`DriverCallbackError`, `DriverContractError`), code and message. */
  readonly error: {
    readonly name: string;
    readonly code: MmsimErrorCode;
    readonly message: string;
  };
  /** Further driver errors of the run, after the first. */
  readonly more: number;
}

declare module '@mmsim/explore' {
  interface CheckKinds {
    /**
     * A driver's `movable_operations` callback threw or returned a value outside its
     * contract; the migrate core undid what it had done for that folio.
     */
    driver: DriverFindingData;
  }
}

/** The name under which the driver-error check can be disabled. */
export const DRIVER_CHECK = 'driver-errors';

/**
 * The driver errors of a machine (`Kernel.driverErrors`) as an explorer check: the first
 * one becomes a `driver` finding. A driver attached with `stopOnDriverError` ends the run
 * in the step of its error (the core has already undone that folio, so every step
 * invariant holds there); otherwise the run goes on and the finding is reported at its
 * last step, when every task has ended, so that the run shows the model recovering.
 */
export function driverErrorCheck(k: Kernel): Check {
  let steps = 0;
  let seen = 0;
  const stepOf: number[] = [];
  return {
    name: DRIVER_CHECK,
    check() {
      steps++;
      const errors = k.driverErrors;
      while (seen < errors.length) {
        stepOf.push(steps);
        seen++;
      }
      const first = errors[0];
      if (first === undefined) return null;
      const stop = errors.find((e) => e.stop);
      if (stop === undefined && k.rt.tasks.some((t) => t.state !== 'done')) return null;
      const record: DriverErrorRecord = stop ?? first;
      const index = errors.indexOf(record);
      const data: DriverFindingData = {
        driver: record.driver,
        callback: record.callback,
        folio: record.folio,
        task: record.task,
        step: stepOf[index] ?? steps,
        stop: record.stop,
        error: {
          name:
            record.error instanceof DriverContractError
              ? 'DriverContractError'
              : 'DriverCallbackError',
          code: record.error.code,
          message: record.error.message,
        },
        more: errors.length - 1,
      };
      return {
        kind: 'driver',
        message: `driver ${record.driver}: ${record.callback} on folio ${record.folio}: ${record.error.message}`,
        detail: formatDriverFinding(data),
        data,
      };
    },
  };
}

/** A driver finding as text: what failed, where, and what the core did about it. */
export function formatDriverFinding(d: DriverFindingData): string {
  return [
    `driver ${d.driver}, callback ${d.callback}, folio ${d.folio}`,
    `  in task ${d.task ?? '(none)'} at step ${d.step}`,
    `  ${d.error.name} (${d.error.code}): ${d.error.message}`,
    `  the migrate core undid its work on the folio (dst freed, the folio given back to ${d.driver})`,
    d.stop
      ? '  stopOnDriverError: the run ended there'
      : `  the run went on to its end${d.more > 0 ? `; ${d.more} more driver error(s)` : ''}`,
  ].join('\n');
}
