import { isDeepStrictEqual } from 'node:util';
import { explore } from '../explore.js';
import { sameKind } from '../finding.js';
import { replay } from '../replay.js';
import type { ExplorationTarget } from '../target.js';

/** What `checkShrinking` found over its seeds. */
export interface ShrinkingCheck {
  /** One line per broken promise of the shrinker, naming the seed; empty when all held. */
  readonly violations: readonly string[];
  /** The most preemptions any shrunk finding needed. */
  readonly maxPreemptions: number;
}

/**
 * Explores `target` with seeds 1..`seeds` (`schedules` each) and checks what the shrinker
 * promises for every finding: the result reports the original and the shrunk shape; the
 * shrunk schedule is never longer in explicit decisions, preemptions or switches; it
 * stays within its replay budget (the default 200, plus the two replays that confirm);
 * and its token replays to a finding of the same kind, equal to the one reported. A seed
 * that finds nothing is a violation too: the check is for targets with a known bug.
 */
export function checkShrinking(
  target: ExplorationTarget,
  options: { readonly seeds?: number; readonly schedules?: number } = {},
): ShrinkingCheck {
  const violations: string[] = [];
  let maxPreemptions = 0;
  for (let seed = 1; seed <= (options.seeds ?? 25); seed++) {
    const bad = (what: string) => violations.push(`seed ${seed}: ${what}`);
    const result = explore(target, { seed, schedules: options.schedules ?? 500 });
    const { original, finding, shrink } = result;
    if (!result.found || original === null || finding === null || shrink === null) {
      bad('nothing found, or no shrink result');
      continue;
    }
    const before = original.shape;
    const after = finding.shape;
    if (!isDeepStrictEqual(shrink.before, before)) bad('shrink.before is not the original shape');
    if (!isDeepStrictEqual(shrink.after, after)) bad('shrink.after is not the shrunk shape');
    for (const measure of ['explicitDecisions', 'preemptions', 'switches'] as const) {
      if (after[measure] > before[measure])
        bad(`${measure} grew from ${before[measure]} to ${after[measure]}`);
    }
    if (shrink.replays > 200 + 2) bad(`${shrink.replays} replays`);
    const again = replay(target, result.replay ?? '');
    if (again.finding === null || !sameKind(again.finding, original)) {
      bad('the shrunk token does not replay to the same kind of finding');
    } else if (!isDeepStrictEqual(again.finding, finding)) {
      bad('the replayed finding differs from the reported one');
    }
    maxPreemptions = Math.max(maxPreemptions, after.preemptions);
  }
  return { violations, maxPreemptions };
}
