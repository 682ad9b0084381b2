import type { Invariant, InvariantPhase } from '@mmsim/runtime';

/**
 * An invariant whose step check is expensive (it walks all of memory): it runs on every
 * `stride`-th step and always at the end.
 */
export function strided(
  name: string,
  stride: number,
  check: (phase: InvariantPhase) => string | null,
): Invariant {
  let n = 0;
  return {
    name,
    check(phase) {
      if (phase === 'step' && ++n % stride !== 0) return null;
      return check(phase);
    },
  };
}

/** The first problem of a list, with a count of the others; null for none. */
export function firstProblem(problems: readonly string[]): string | null {
  if (problems.length === 0) return null;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return `${problems[0]}${more}`;
}
