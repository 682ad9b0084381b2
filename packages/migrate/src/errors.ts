import { type KernelGen, MmsimError } from '@mmsim/runtime';

/**
 * A callback supplied from outside the core (a driver's `movable_operations`, a
 * filesystem's `address_space_operations`, the caller's `get_new_page` / `put_new_page`)
 * threw. The error names the owner and the callback; the original error is the `cause`.
 * The migration that called it stops where it was: locks it held stay held, so the run
 * ends with this error rather than going on with a half-done migration.
 */
export class DriverCallbackError extends MmsimError {
  /** The driver, filesystem or caller that supplied the callback. */
  readonly driver: string;
  /** The callback's kernel name (`migrate_page`, `writepage`, `get_new_page`...). */
  readonly callback: string;

  constructor(driver: string, callback: string, cause: unknown) {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super('CONTRACT_VIOLATION', `${driver}.${callback} threw: ${what}`, { cause });
    this.driver = driver;
    this.callback = callback;
  }
}

/**
 * A driver callback returned something its contract does not allow: `isolate_page` must
 * return a boolean, `migrate_page` MIGRATEPAGE_SUCCESS (0) or a negative errno. The error
 * names the driver, the callback and what was returned (`returned`, as it was).
 */
export class DriverContractError extends MmsimError {
  readonly driver: string;
  readonly callback: string;
  /** What the callback returned. */
  readonly returned: unknown;

  constructor(driver: string, callback: string, returned: unknown, expected: string) {
    super(
      'CONTRACT_VIOLATION',
      `${driver}.${callback} returned ${describeValue(returned)}; it must return ${expected}`,
    );
    this.driver = driver;
    this.callback = callback;
    this.returned = returned;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return `an object ${JSON.stringify(value)}`;
    } catch {
      return 'an object';
    }
  }
  return String(value);
}

/**
 * A driver error the migrate core caught and undid (see `MigrateEnv.driverError`): which
 * driver and callback, on which folio, in which task and at what virtual time, and the
 * typed error (`DriverCallbackError` for a throw, `DriverContractError` for a value the
 * protocol does not allow).
 */
export interface DriverErrorRecord {
  readonly driver: string;
  readonly callback: string;
  readonly folio: number;
  /** The task that called the driver (its comm), or null outside a task. */
  readonly task: string | null;
  /** The virtual time (ns) of that task's CPU when it happened. */
  readonly clock: number;
  /** Whether the driver asked the run to end at its first error (`stopOnDriverError`). */
  readonly stop: boolean;
  readonly error: DriverCallbackError | DriverContractError;
}

/** Calls a plain callback, turning an exception into a `DriverCallbackError`. */
export function callDriver<T>(driver: string, callback: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof DriverCallbackError) throw error;
    throw new DriverCallbackError(driver, callback, error);
  }
}

/** Runs a generator callback, turning an exception it throws into a `DriverCallbackError`. */
export function* callDriverGen<T>(
  driver: string,
  callback: string,
  fn: () => KernelGen<T>,
): KernelGen<T> {
  let gen: KernelGen<T>;
  try {
    gen = fn();
  } catch (error) {
    if (error instanceof DriverCallbackError) throw error;
    throw new DriverCallbackError(driver, callback, error);
  }
  if (gen === null || typeof gen !== 'object' || typeof gen.next !== 'function') {
    throw new DriverCallbackError(
      driver,
      callback,
      new TypeError('the callback must be a generator function (function*) returning a number'),
    );
  }
  try {
    return yield* gen;
  } catch (error) {
    if (error instanceof DriverCallbackError) throw error;
    throw new DriverCallbackError(driver, callback, error);
  }
}

/** A kernel `BUG()` / `VM_BUG_ON` reached by the model: the kernel would oops here. */
export function kernelBug(where: string, message: string): MmsimError {
  return new MmsimError('INVARIANT_VIOLATED', `kernel BUG in ${where}: ${message}`);
}
