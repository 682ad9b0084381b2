/**
 * The kinds of finding that targets' checks report, each mapped to the data its violations
 * carry. Empty here, because the explorer knows no model: the package that supplies a
 * check adds its kind by module augmentation, and findings of that kind then narrow like
 * the built-in ones.
 *
 * ```ts
 * declare module '@mmsim/explore' {
 *   interface CheckKinds { inversion: InversionReport }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation
export interface CheckKinds {}

/** A kind of finding that a target's check may report (a key of `CheckKinds`). */
export type CheckKind = Extract<keyof CheckKinds, string>;

/** What every check violation holds, whatever its kind (what the explorer itself reads). */
export interface CheckViolationShape {
  readonly kind: string;
  readonly message: string;
  readonly detail: string;
  readonly data: unknown;
}

/** What a check reports when it fails: its kind, one line, a report, and its own data. */
export type CheckViolation = {
  readonly [K in CheckKind]: {
    readonly kind: K;
    /** One line: what went wrong (the finding's message). */
    readonly message: string;
    /** The finding's detail in `formatFinding`, as the model formats it. */
    readonly detail: string;
    /** The check's own record of the problem, for programs. */
    readonly data: CheckKinds[K];
  };
}[CheckKind];

/**
 * A check that a target supplies besides its invariants, run after every step: it finds
 * problems of a kind of its own (a lock-order inversion, say) rather than a broken
 * property, so a failure becomes a finding of that kind. Disabled by name, like an
 * invariant.
 */
export interface Check {
  readonly name: string;
  /** Null while all is well. */
  check(): CheckViolation | null;
}
