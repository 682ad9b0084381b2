import type { DeadlockReport } from '@mmsim/runtime';
import type { CycleGraph } from './report-data.js';

/**
 * The wait-for cycle of a deadlock as a graph: one node per task of the cycle (where it
 * sleeps and on what), an edge from each task to each holder of what it waits for, and for
 * each task the resources it holds that another task of the cycle waits for. Null when the
 * report has no cycle (every task sleeps on something nobody holds: a lost wake-up).
 */
export function cycleGraph(deadlock: DeadlockReport): CycleGraph | null {
  if (deadlock.cycle.length === 0) return null;
  const inCycle = new Set(deadlock.cycle.map((e) => e.task.id));
  const holds = new Map<number, string[]>();
  const edges = [];
  for (const edge of deadlock.cycle) {
    for (const holder of edge.heldBy) {
      if (!inCycle.has(holder.id)) continue;
      edges.push({ from: edge.task.id, to: holder.id, resource: edge.resource });
      const list = holds.get(holder.id) ?? [];
      if (!list.includes(edge.resource)) list.push(edge.resource);
      holds.set(holder.id, list);
    }
  }
  return {
    tasks: deadlock.cycle.map((e) => ({
      id: e.task.id,
      name: e.task.name,
      cpu: e.task.cpu,
      waitsIn: e.waitsIn,
      waitsFor: e.resource,
      holds: holds.get(e.task.id) ?? [],
    })),
    edges,
  };
}
