import type { Invariant, InvariantPhase } from '@mmsim/runtime';

/**
 * An invariant whose step check is expensive (it walks all of memory): it runs on every
 * `stride`-th step and always at the end. `stride` must be a positive integer (as
 * `kernelInvariants` checks).
 */
export function strided(
  name: string,
  stride: number,
  check: (phase: InvariantPhase) => string | null,
): Invariant {
  return new Strided(name, stride, check);
}

/**
 * `strided`'s invariant: a class, not an object literal with a method closing over the
 * count (an explorer builds one per invariant per schedule). It says its stride
 * (`Invariant.stepStride`), so an explorer calls `checkDue` on the due steps only.
 */
class Strided implements Invariant {
  #n = 0;
  constructor(
    readonly name: string,
    readonly stepStride: number,
    private readonly run: (phase: InvariantPhase) => string | null,
  ) {}

  check(phase: InvariantPhase): string | null {
    if (phase === 'step' && ++this.#n % this.stepStride !== 0) return null;
    return this.run(phase);
  }

  checkDue(phase: InvariantPhase): string | null {
    return this.run(phase);
  }
}

/** The first problem of a list, with a count of the others; null for none. */
export function firstProblem(problems: readonly string[]): string | null {
  if (problems.length === 0) return null;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return `${problems[0]}${more}`;
}
