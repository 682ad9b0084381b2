import type { RunResult } from '@mmsim/runtime';

/** When an invariant is checked: after a scheduling step, or once when the run completes. */
export type InvariantPhase = 'step' | 'end';

/**
 * A named property of a machine: `check` returns null when it holds, else a message that
 * says what is wrong. The shape is the explorer's (`@mmsim/explore`'s `Invariant`), so an
 * explorer checks these as they are; the kernel does not depend on the explorer.
 */
export interface ScenarioInvariant {
  readonly name: string;
  check(phase: InvariantPhase, result?: RunResult): string | null;
}

/**
 * An invariant whose step check is expensive (it walks all of memory): it runs on every
 * `stride`-th step and always at the end.
 */
export function strided(
  name: string,
  stride: number,
  check: (phase: InvariantPhase) => string | null,
): ScenarioInvariant {
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
