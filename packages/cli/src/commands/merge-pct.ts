import type { PctGuarantee } from '@mmsim/explore';

/**
 * PCT's guarantee of several shards together (nothing found): the schedules counted add
 * up, the per-schedule bound is the lowest, and the chance to miss a depth-d bug is the
 * product of the shards' (as the unsharded search multiplies it schedule by schedule).
 * Undefined when a shard has none.
 */
export function mergePctGuarantees(
  all: readonly (PctGuarantee | null | undefined)[],
): PctGuarantee | undefined {
  if (all.length === 0 || all.some((p) => p === undefined || p === null)) return undefined;
  const pcts = all as PctGuarantee[];
  let miss = 1;
  for (const p of pcts) miss *= 1 - p.cumulative;
  const counted = pcts.filter((p) => p.schedulesCounted > 0);
  return {
    depth: (pcts[0] as PctGuarantee).depth,
    tasks: Math.max(...pcts.map((p) => p.tasks)),
    steps: Math.max(...pcts.map((p) => p.steps)),
    schedulesCounted: pcts.reduce((sum, p) => sum + p.schedulesCounted, 0),
    perSchedule: counted.length === 0 ? 0 : Math.min(...counted.map((p) => p.perSchedule)),
    cumulative: Number((1 - miss).toPrecision(12)),
  };
}
