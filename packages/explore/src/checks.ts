import { type Invariant, MmsimError } from '@mmsim/runtime';
import type { Check } from './check.js';
import { runtimeInvariants } from './runtime-invariants.js';
import type { ExplorationInstance } from './target.js';

/** Which checks run: the same options must be given to explore, replay and shrink. */
export interface CheckOptions {
  /** Names of invariants, or of the target's checks, not to run. */
  readonly disable?: readonly string[];
  /** More invariants, checked after the runtime's and the target's. */
  readonly invariants?: readonly Invariant[];
}

/** The checks of one instance, in the order they run. */
export interface ActiveChecks {
  /** The target's checks, run first after each step. */
  readonly checks: readonly Check[];
  readonly invariants: readonly Invariant[];
  /** The invariants checked after a step: `invariants` without the `endOnly` ones. */
  readonly stepInvariants: readonly Invariant[];
}

/** Validates the shape of check options; throws `INVALID_CONFIG` naming the option. */
export function validateCheckOptions(options: CheckOptions, where: string): void {
  const { disable, invariants } = options;
  if (disable !== undefined) {
    if (!Array.isArray(disable) || !disable.every((n) => typeof n === 'string')) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `${where}.disable must be an array of invariant names`,
      );
    }
  }
  if (invariants !== undefined) {
    if (!Array.isArray(invariants)) {
      throw new MmsimError('INVALID_CONFIG', `${where}.invariants must be an array of invariants`);
    }
    invariants.forEach((inv: unknown, i) => {
      checkNamedCheck(inv, `${where}.invariants[${i}]`, INVARIANT_CHECK);
    });
  }
}

const INVARIANT_CHECK = 'check(phase, result)';

/** Whether `v` is `{ name, check }` with a non-empty name (see `checkNamedCheck`). */
function isNamedCheck(v: unknown): boolean {
  const named = v as Partial<Invariant | Check> | null;
  return (
    typeof named === 'object' &&
    named !== null &&
    typeof named.name === 'string' &&
    named.name !== '' &&
    typeof named.check === 'function'
  );
}

/**
 * Throws INVALID_CONFIG unless `v` is `{ name, check }` with a non-empty name: the shape of
 * both an invariant and a target's check (`signature` is how the message spells `check`).
 */
function checkNamedCheck(v: unknown, where: string, signature: string): void {
  if (!isNamedCheck(v)) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `${where} must be { name: non-empty string, ${signature} }`,
    );
  }
}

/** The names of checks and invariants last found valid under some options, and its disabled set. */
interface ValidatedNames {
  /** The checks' names, then the invariants', in order. */
  readonly names: readonly string[];
  readonly off: ReadonlySet<string>;
}

/**
 * Per options object (one per exploration, or per batch of one), the names its last instance
 * was validated with: an instance whose checks and invariants carry the same names, in the
 * same order, is valid too (no name twice, every disabled name known), so each schedule does
 * not build the set of names again (a Set and some fifteen insertions a schedule).
 */
const VALIDATED = new WeakMap<CheckOptions, ValidatedNames>();

/** Whether `checks` then `invariants` carry exactly `names`, in order. */
function sameNames(
  names: readonly string[],
  checks: readonly Check[],
  invariants: readonly Invariant[],
): boolean {
  if (names.length !== checks.length + invariants.length) return false;
  for (let i = 0; i < checks.length; i++) {
    if ((checks[i] as Check).name !== names[i]) return false;
  }
  const n = checks.length;
  for (let i = 0; i < invariants.length; i++) {
    if ((invariants[i] as Invariant).name !== names[n + i]) return false;
  }
  return true;
}

/**
 * The checks for one instance: the target's checks; the runtime's invariants, the
 * target's, then the extra ones; minus the disabled names. Duplicate names (checks and
 * invariants share one namespace), and disabled names that match nothing (a typo would
 * silently check everything), throw `INVALID_CONFIG`.
 */
export function activeChecks(
  instance: ExplorationInstance,
  options: CheckOptions,
  target: string,
): ActiveChecks {
  // Run for every schedule: the messages are built only for a check that fails.
  const targetInvariants = instance.invariants;
  for (let i = 0; i < targetInvariants.length; i++) {
    if (!isNamedCheck(targetInvariants[i])) {
      checkNamedCheck(targetInvariants[i], `target "${target}": invariants[${i}]`, INVARIANT_CHECK);
    }
  }
  const checks = instance.checks ?? [];
  for (let i = 0; i < checks.length; i++) {
    if (!isNamedCheck(checks[i])) {
      checkNamedCheck(checks[i], `target "${target}": checks[${i}]`, 'check()');
    }
  }
  // The runtime's invariants, then the target's, then the extra ones: appended by loops,
  // not spread (three iterations a schedule, through the array iterator).
  const all = runtimeInvariants(instance.rt);
  for (let i = 0; i < targetInvariants.length; i++) all.push(targetInvariants[i] as Invariant);
  const extra = options.invariants;
  if (extra !== undefined) for (let i = 0; i < extra.length; i++) all.push(extra[i] as Invariant);
  const disable = options.disable ?? [];
  let validated = VALIDATED.get(options);
  if (validated === undefined || !sameNames(validated.names, checks, all)) {
    const names = new Set<string>();
    for (const { name } of checks) addName(names, name, target);
    for (const { name } of all) addName(names, name, target);
    const off = new Set(disable);
    for (const name of off) {
      if (!names.has(name)) {
        throw new MmsimError(
          'INVALID_CONFIG',
          `disable: "${name}" names no invariant of target "${target}"; known: ` +
            [...names].join(', '),
        );
      }
    }
    validated = { names: [...names], off };
    VALIDATED.set(options, validated);
  }
  if (disable.length === 0) return withStepInvariants(checks.slice(), all);
  const off = validated.off;
  return withStepInvariants(
    checks.filter((c) => !off.has(c.name)),
    all.filter((inv) => !off.has(inv.name)),
  );
}

/**
 * The active checks with the invariants to check after steps: an end-only one
 * (`Invariant.endOnly`) holds at every step, so leaving it out changes no verdict.
 */
function withStepInvariants(
  checks: readonly Check[],
  invariants: readonly Invariant[],
): ActiveChecks {
  // Loops, not `some` and `filter` with closures: this runs once a schedule.
  let endOnly = 0;
  for (let i = 0; i < invariants.length; i++) {
    if ((invariants[i] as Invariant).endOnly === true) endOnly++;
  }
  if (endOnly === 0) return { checks, invariants, stepInvariants: invariants };
  const stepInvariants: Invariant[] = [];
  for (let i = 0; i < invariants.length; i++) {
    const inv = invariants[i] as Invariant;
    if (inv.endOnly !== true) stepInvariants.push(inv);
  }
  return { checks, invariants, stepInvariants };
}

/** Adds a check's or invariant's name; a name used twice throws `INVALID_CONFIG`. */
function addName(names: Set<string>, name: string, target: string): void {
  if (names.has(name)) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `invariants: the name "${name}" is used twice in target "${target}"; ` +
        'invariant and check names must be unique',
    );
  }
  names.add(name);
}
