/**
 * Misuse of a public API throws an `MmsimError`. Kernel-style results (negative errno,
 * counts of folios not migrated) never do: they are return values inside the model.
 *
 * Every code names a class of mistake; the message says what to fix. A function that
 * throws one leaves the model as it was before the call.
 */
export type MmsimErrorCode =
  /** A configuration value is out of range or of the wrong kind. */
  | 'INVALID_CONFIG'
  /** An argument to a public function is out of range (pfn, order, node, cpu...). */
  | 'INVALID_ARGUMENT'
  /** An operation broke the contract of a primitive (unlock by a non-owner...). */
  | 'CONTRACT_VIOLATION'
  /** A sleeping primitive was called where the kernel may not sleep. */
  | 'SLEEP_IN_ATOMIC'
  /** A kernel primitive was used outside a running task. */
  | 'NO_CURRENT_TASK'
  /** A folio or frame was freed twice. */
  | 'DOUBLE_FREE'
  /** A freed folio or frame was used. */
  | 'USE_AFTER_FREE'
  /** A refcount or mapcount would go negative. */
  | 'COUNT_UNDERFLOW'
  /** A replay token is malformed or names another run. */
  | 'INVALID_REPLAY_TOKEN'
  /** A replayed run asked for a task that the token did not record as runnable. */
  | 'REPLAY_DIVERGED'
  /** A task's code threw an exception that is not an MmsimError. */
  | 'TASK_CRASHED'
  /** The run was already started or finished. */
  | 'INVALID_STATE'
  /** The model's own state is inconsistent (an invariant check failed). */
  | 'INVARIANT_VIOLATED';

export class MmsimError extends Error {
  override readonly name = 'MmsimError';
  readonly code: MmsimErrorCode;

  constructor(code: MmsimErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Throws `INVALID_ARGUMENT` unless `value` is an integer in [min, max]. */
export function checkInt(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${what} must be an integer in [${min}, ${max}], got ${String(value)}`,
    );
  }
}
