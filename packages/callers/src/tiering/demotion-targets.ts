import { checkNodeDistances, LOCAL_DISTANCE, REMOTE_DISTANCE } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MmsimError } from '@mmsim/runtime';

/** `LOCAL_DISTANCE` and `REMOTE_DISTANCE` (include/linux/topology.h), from @mmsim/folio. */
export { LOCAL_DISTANCE, REMOTE_DISTANCE };

/** `struct demotion_nodes` of one node, plus its allowed fallback targets. */
export interface DemotionTargets {
  /** `node_demotion[node].preferred`: the nearest lower-tier nodes (all at one distance). */
  readonly preferred: readonly number[];
  /**
   * `node_get_allowed_targets`: every node of the tiers below (the fallback nodes
   * `alloc_demote_page` may use without `__GFP_THISNODE`).
   */
  readonly allowed: readonly number[];
}

/**
 * The default distance table: LOCAL_DISTANCE on the diagonal, REMOTE_DISTANCE elsewhere
 * (what `node_distance` gives without an ACPI SLIT).
 */
export function defaultNodeDistances(nrNodes: number): number[][] {
  return Array.from({ length: nrNodes }, (_, a) =>
    Array.from({ length: nrNodes }, (_, b) => (a === b ? LOCAL_DISTANCE : REMOTE_DISTANCE)),
  );
}

/**
 * `establish_demotion_targets()` (mm/memory-tiers.c, 6.3) for the two tiers the model has:
 * nodes with CPUs in the DRAM tier (MEMTIER_ADISTANCE_DRAM), CPU-less nodes in the tier
 * below (as the dax/kmem driver registers them, MEMTIER_DEFAULT_DAX_ADISTANCE). A node of
 * the last tier has no target. For the others, `preferred` is built as 6.3 does with
 * `find_next_best_node` over the lower tiers' nodes: the nearest by `distances`, and every
 * further one at that same distance; ties go to the lower node id (the model has no
 * `node_load` penalty). `allowed` is every lower-tier node, nearest first.
 * `distances[a][b]` is `node_distance(a, b)`; bad tables (not as `slit_valid` wants them:
 * 10 on the diagonal, 11..254 elsewhere) throw INVALID_CONFIG.
 */
export function establishDemotionTargets(
  nodeHasCpus: readonly boolean[],
  distances: readonly (readonly number[])[] = defaultNodeDistances(nodeHasCpus.length),
): DemotionTargets[] {
  const n = nodeHasCpus.length;
  const problem = checkNodeDistances(distances, n);
  if (problem !== null) throw new MmsimError('INVALID_CONFIG', `node ${problem}`);
  const slow: number[] = [];
  for (let nid = 0; nid < n; nid++) if (!nodeHasCpus[nid]) slow.push(nid);
  return nodeHasCpus.map((hasCpus, nid) => {
    if (!hasCpus || slow.length === 0) return { preferred: [], allowed: [] };
    const row = distances[nid]!;
    const allowed = [...slow].sort((x, y) => row[x]! - row[y]! || x - y);
    const best = row[allowed[0]!]!;
    return { preferred: allowed.filter((t) => row[t] === best), allowed };
  });
}

/**
 * `establishDemotionTargets` for a machine: its nodes' CPUs and the given distances, by
 * default the machine's own distance table (the `distances` of its configuration).
 */
export function kernelDemotionTargets(
  k: Kernel,
  distances: readonly (readonly number[])[] = k.config.distances,
): DemotionTargets[] {
  const hasCpus = Array.from({ length: k.nrNodes }, (_, nid) => k.cpusOfNode(nid).length > 0);
  return establishDemotionTargets(hasCpus, distances);
}
