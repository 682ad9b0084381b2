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
