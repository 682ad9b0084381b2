import { MmsimError } from '@mmsim/runtime';
import type { Invariant } from './invariant.js';
import { runtimeInvariants } from './runtime-invariants.js';
import type { ExplorationInstance } from './target.js';

/** The name under which the page-lock inversion check can be disabled. */
export const INVERSION_CHECK = 'page-lock-inversion';

/** Which checks run: the same options must be given to explore, replay and shrink. */
export interface CheckOptions {
  /** Names of invariants (or `'page-lock-inversion'`) not to check. */
  readonly disable?: readonly string[];
  /** More invariants, checked after the runtime's and the target's. */
  readonly invariants?: readonly Invariant[];
}

/** The checks of one instance, in the order they run. */
export interface ActiveChecks {
  readonly invariants: readonly Invariant[];
  readonly inversions: boolean;
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
      checkInvariant(inv, `${where}.invariants[${i}]`);
    });
  }
}

function checkInvariant(inv: unknown, where: string): void {
  const v = inv as Partial<Invariant> | null;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof v.name !== 'string' ||
    v.name === '' ||
    typeof v.check !== 'function'
  ) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `${where} must be { name: non-empty string, check(phase, result) }`,
    );
  }
}

/**
 * The checks for one instance: the runtime's invariants, the target's, then the extra
 * ones, minus the disabled names. Duplicate names, and disabled names that match nothing
 * (a typo would silently check everything), throw `INVALID_CONFIG`.
 */
export function activeChecks(
  instance: ExplorationInstance,
  options: CheckOptions,
  target: string,
): ActiveChecks {
  const all = [
    ...runtimeInvariants(instance.rt),
    ...instance.invariants,
    ...(options.invariants ?? []),
  ];
  instance.invariants.forEach((inv: unknown, i) => {
    checkInvariant(inv, `target "${target}": invariants[${i}]`);
  });
  const names = new Set<string>();
  for (const inv of all) {
    if (names.has(inv.name) || inv.name === INVERSION_CHECK) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `invariants: the name "${inv.name}" is used twice (or is reserved) in target "${target}"; ` +
          'invariant names must be unique',
      );
    }
    names.add(inv.name);
  }
  const disabled = new Set(options.disable ?? []);
  for (const name of disabled) {
    if (!names.has(name) && name !== INVERSION_CHECK) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `disable: "${name}" names no invariant of target "${target}"; known: ` +
          [...names, INVERSION_CHECK].join(', '),
      );
    }
  }
  return {
    invariants: all.filter((inv) => !disabled.has(inv.name)),
    inversions: instance.inversions !== undefined && !disabled.has(INVERSION_CHECK),
  };
}
