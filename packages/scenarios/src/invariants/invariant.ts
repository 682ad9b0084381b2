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
  return new Strided(name, stride, check);
}

/**
 * `strided`'s invariant: a class, not an object literal with a method closing over the
 * count (an explorer builds one per invariant per schedule).
 */
class Strided implements Invariant {
  #n = 0;
  constructor(
    readonly name: string,
    private readonly stride: number,
    private readonly run: (phase: InvariantPhase) => string | null,
  ) {}

  check(phase: InvariantPhase): string | null {
    if (phase === 'step' && ++this.#n % this.stride !== 0) return null;
    return this.run(phase);
  }
}

/** The first problem of a list, with a count of the others; null for none. */
export function firstProblem(problems: readonly string[]): string | null {
  if (problems.length === 0) return null;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return `${problems[0]}${more}`;
}
