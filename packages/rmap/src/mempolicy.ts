import {
  type Folio,
  folioAlloc,
  MAX_NUMNODES,
  NUMA_NO_NODE,
  nodeFallbackOrder,
  nodeSpannedPages,
  type PhysicalMemory,
} from '@mmsim/folio';
import { EINVAL, ENOMEM, MmsimError, type Task } from '@mmsim/runtime';

/*
 * Memory policies (mm/mempolicy.c, include/uapi/linux/mempolicy.h, Linux 6.3): the
 * `struct mempolicy` of a VMA or a task, the node masks they carry, and the rules by which
 * a fault allocates under them.
 */

/** Policy modes (`enum`, include/uapi/linux/mempolicy.h, 6.3). */
export const MPOL_DEFAULT = 0;
export const MPOL_PREFERRED = 1;
export const MPOL_BIND = 2;
export const MPOL_INTERLEAVE = 3;
export const MPOL_LOCAL = 4;
export const MPOL_PREFERRED_MANY = 5;
/** One above the last mode: `sanitize_mpol_flags` refuses modes from here on. */
export const MPOL_MAX = 6;

/** Mode flags, or-ed into the mode argument of set_mempolicy / mbind. */
export const MPOL_F_STATIC_NODES = 1 << 15;
export const MPOL_F_RELATIVE_NODES = 1 << 14;
export const MPOL_F_NUMA_BALANCING = 1 << 13;
/** `MPOL_MODE_FLAGS`: the flags a mode argument may carry. */
export const MPOL_MODE_FLAGS = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;

/** Flags of get_mempolicy. */
export const MPOL_F_NODE = 1 << 0;
export const MPOL_F_ADDR = 1 << 1;
export const MPOL_F_MEMS_ALLOWED = 1 << 2;

/** Flags of mbind / the page walk (`MPOL_MF_*`). */
export const MPOL_MF_STRICT = 1 << 0;
export const MPOL_MF_MOVE = 1 << 1;
export const MPOL_MF_MOVE_ALL = 1 << 2;
export const MPOL_MF_LAZY = 1 << 3;
export const MPOL_MF_INTERNAL = 1 << 4;
/** `MPOL_MF_VALID`: the flags mbind accepts (6.3). */
export const MPOL_MF_VALID = MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL;
/** Internal: holes in the range are fine (`MPOL_MF_DISCONTIG_OK`). */
export const MPOL_MF_DISCONTIG_OK = MPOL_MF_INTERNAL << 0;
/** Internal: queue the folios NOT on the mask (`MPOL_MF_INVERT`). */
export const MPOL_MF_INVERT = MPOL_MF_INTERNAL << 1;

/**
 * A node mask (`nodemask_t`, include/linux/nodemask.h): one byte per possible node,
 * `MAX_NUMNODES` long, 1 where the node is set.
 */
export type Nodemask = Uint8Array;

/** `NODE_MASK_NONE`: a new empty mask. */
export function nodemaskNone(): Nodemask {
  return new Uint8Array(MAX_NUMNODES);
}

/** A mask of the given node ids (each must be in [0, MAX_NUMNODES)). */
export function nodemaskOf(nodes: Iterable<number>): Nodemask {
  const mask = nodemaskNone();
  for (const n of nodes) {
    if (!Number.isInteger(n) || n < 0 || n >= MAX_NUMNODES) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `a node id must be an integer in [0, ${MAX_NUMNODES - 1}], got ${String(n)}`,
      );
    }
    mask[n] = 1;
  }
  return mask;
}

/** The node ids set in a mask, ascending. */
export function nodemaskNodes(mask: Nodemask): number[] {
  const out: number[] = [];
  for (let n = 0; n < mask.length; n++) if (mask[n] !== 0) out.push(n);
  return out;
}

/** `nodes_empty`. */
export function nodesEmpty(mask: Nodemask): boolean {
  for (let n = 0; n < mask.length; n++) if (mask[n] !== 0) return false;
  return true;
}

/** `nodes_weight`. */
export function nodesWeight(mask: Nodemask): number {
  let w = 0;
  for (let n = 0; n < mask.length; n++) w += mask[n]! !== 0 ? 1 : 0;
  return w;
}

/** `first_node`: the lowest set node, or MAX_NUMNODES when empty. */
export function firstNode(mask: Nodemask): number {
  for (let n = 0; n < mask.length; n++) if (mask[n] !== 0) return n;
  return MAX_NUMNODES;
}

/** `next_node(n, mask)`: the lowest set node above `n`, or MAX_NUMNODES. */
export function nextNode(n: number, mask: Nodemask): number {
  for (let m = n + 1; m < mask.length; m++) if (mask[m] !== 0) return m;
  return MAX_NUMNODES;
}

/** `next_node_in(n, mask)`: as next_node, wrapping round to the first; MAX_NUMNODES if empty. */
export function nextNodeIn(n: number, mask: Nodemask): number {
  const next = nextNode(n, mask);
  return next === MAX_NUMNODES ? firstNode(mask) : next;
}

/** `nodes_and`: a new mask. */
export function nodesAnd(a: Nodemask, b: Nodemask): Nodemask {
  const out = nodemaskNone();
  for (let n = 0; n < out.length; n++) out[n] = a[n]! & b[n]!;
  return out;
}

/** `nodes_intersects`. */
export function nodesIntersects(a: Nodemask, b: Nodemask): boolean {
  for (let n = 0; n < a.length; n++) if ((a[n]! & b[n]!) !== 0) return true;
  return false;
}

/** `nodes_subset(a, b)`: every node of `a` is in `b`. */
export function nodesSubset(a: Nodemask, b: Nodemask): boolean {
  for (let n = 0; n < a.length; n++) if (a[n] !== 0 && b[n] === 0) return false;
  return true;
}

/** `nodes_equal`. */
export function nodesEqual(a: Nodemask, b: Nodemask): boolean {
  for (let n = 0; n < a.length; n++) if (a[n] !== b[n]) return false;
  return true;
}

/** `bitmap_pos_to_ord`: how many set bits of `mask` lie below `pos`, or -1 if `pos` is clear. */
function posToOrd(mask: Nodemask, pos: number): number {
  if (mask[pos] === 0) return -1;
  let ord = 0;
  for (let n = 0; n < pos; n++) if (mask[n] !== 0) ord++;
  return ord;
}

/** `bitmap_ord_to_pos`: the position of the `ord`-th set bit. */
function ordToPos(mask: Nodemask, ord: number): number {
  let seen = 0;
  for (let n = 0; n < mask.length; n++) {
    if (mask[n] === 0) continue;
    if (seen === ord) return n;
    seen++;
  }
  return MAX_NUMNODES;
}

/**
 * `node_remap(oldbit, old, new)` (lib/bitmap.c `bitmap_bitremap`, 6.3): a node that is the
 * n-th set node of `from` becomes the (n mod weight(to))-th set node of `to`; a node not
 * in `from`, or any node when `to` is empty, stays itself.
 */
export function nodeRemap(node: number, from: Nodemask, to: Nodemask): number {
  const w = nodesWeight(to);
  const n = posToOrd(from, node);
  if (n < 0 || w === 0) return node;
  return ordToPos(to, n % w);
}

/** `nodes_remap(dst, src, old, new)` (lib/bitmap.c `bitmap_remap`, 6.3): every node remapped. */
export function nodesRemap(src: Nodemask, from: Nodemask, to: Nodemask): Nodemask {
  const out = nodemaskNone();
  for (let n = 0; n < src.length; n++) if (src[n] !== 0) out[nodeRemap(n, from, to)] = 1;
  return out;
}

/**
 * `mpol_relative_nodemask(ret, orig, rel)` (mm/mempolicy.c, 6.3): `orig` folded onto
 * weight(rel) bits (`nodes_fold`), then placed onto the set nodes of `rel` (`nodes_onto`):
 * relative node i means the i-th node of `rel`.
 */
export function mpolRelativeNodemask(orig: Nodemask, rel: Nodemask): Nodemask {
  const w = nodesWeight(rel);
  const folded = nodemaskNone();
  if (w > 0) for (let n = 0; n < orig.length; n++) if (orig[n] !== 0) folded[n % w] = 1;
  const out = nodemaskNone();
  let m = 0;
  for (let n = 0; n < rel.length; n++) {
    if (rel[n] === 0) continue;
    if (folded[m] !== 0) out[n] = 1;
    m++;
  }
  return out;
}

/**
 * `struct mempolicy` (include/linux/mempolicy.h, 6.3): `mode`, `flags` (the mode flags
 * MPOL_F_STATIC_NODES / MPOL_F_RELATIVE_NODES), `nodes` (the nodes in force: for
 * MPOL_PREFERRED only its one node), and the `w` union: `userNodemask` (the nodes the
 * user gave, kept for STATIC / RELATIVE policies) or `cpusetMemsAllowed` (the cpuset mems
 * the policy was made under, for the others), as `mpol_set_nodemask` fills it.
 * `homeNode` is NUMA_NO_NODE (set_mempolicy_home_node is not modelled).
 */
export class Mempolicy {
  readonly mode: number;
  readonly flags: number;
  nodes: Nodemask;
  userNodemask: Nodemask;
  cpusetMemsAllowed: Nodemask;
  readonly homeNode: number = NUMA_NO_NODE;

  constructor(mode: number, flags: number, nodes: Nodemask) {
    this.mode = mode;
    this.flags = flags;
    this.nodes = nodes;
    this.userNodemask = nodemaskNone();
    this.cpusetMemsAllowed = nodemaskNone();
  }

  toString(): string {
    return `${MPOL_MODE_NAMES[this.mode] ?? this.mode}:${nodemaskNodes(this.nodes).join(',')}`;
  }
}

/**
 * `mpol_dup(pol)` (mm/mempolicy.c, 6.3): a copy, as fork gives the child's VMAs and task.
 */
export function mpolDup(pol: Mempolicy | null): Mempolicy | null {
  if (pol === null) return null;
  const copy = new Mempolicy(pol.mode, pol.flags, pol.nodes.slice());
  copy.userNodemask = pol.userNodemask.slice();
  copy.cpusetMemsAllowed = pol.cpusetMemsAllowed.slice();
  return copy;
}

/** Mode names as numa_maps prints them. */
export const MPOL_MODE_NAMES: readonly string[] = [
  'default',
  'prefer',
  'bind',
  'interleave',
  'local',
  'prefer (many)',
];

/**
 * `mpol_new(mode, flags, nodes)` (mm/mempolicy.c, 6.3): MPOL_DEFAULT gives no policy
 * (null; -EINVAL with nodes), MPOL_PREFERRED with no nodes becomes MPOL_LOCAL (-EINVAL with
 * STATIC or RELATIVE), MPOL_LOCAL takes no nodes and no mode flags, the other modes need
 * nodes. The nodes in force are set later by `mpolSetNodemask`. Returns the new policy,
 * null, or -EINVAL.
 */
export function mpolNew(mode: number, flags: number, nodes: Nodemask): Mempolicy | null | number {
  const userFlags = flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES);
  if (mode === MPOL_DEFAULT) {
    if (!nodesEmpty(nodes)) return -EINVAL;
    return null;
  }
  let m = mode;
  if (m === MPOL_PREFERRED) {
    if (nodesEmpty(nodes)) {
      if (userFlags !== 0) return -EINVAL;
      m = MPOL_LOCAL;
    }
  } else if (m === MPOL_LOCAL) {
    if (!nodesEmpty(nodes) || userFlags !== 0) return -EINVAL;
  } else if (nodesEmpty(nodes)) return -EINVAL;
  return new Mempolicy(m, flags, nodemaskNone());
}

/** `mpol_store_user_nodemask`: STATIC or RELATIVE keep the user's mask. */
function storesUserNodemask(pol: Mempolicy): boolean {
  return (pol.flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)) !== 0;
}

/**
 * `mpol_set_nodemask(pol, nodes, nsc)` (mm/mempolicy.c, 6.3): the nodes in force are the
 * user's nodes (relative ones mapped onto the allowed set) ∩ `cpuset_current_mems_allowed`
 * ∩ the nodes with memory; the user's mask or the cpuset mems are remembered for rebinds;
 * then the mode's create step (`mpol_new_nodemask` / `mpol_new_preferred`: -EINVAL when
 * nothing is left; MPOL_PREFERRED keeps only the first node). MPOL_LOCAL and no policy
 * need nothing. Returns 0 or -EINVAL.
 */
export function mpolSetNodemask(
  pol: Mempolicy | null,
  nodes: Nodemask,
  memsAllowed: Nodemask,
  nodesWithMemory: Nodemask,
): number {
  if (pol === null || pol.mode === MPOL_LOCAL) return 0;
  const allowed = nodesAnd(memsAllowed, nodesWithMemory);
  const inForce =
    (pol.flags & MPOL_F_RELATIVE_NODES) !== 0
      ? mpolRelativeNodemask(nodes, allowed)
      : nodesAnd(nodes, allowed);
  if (storesUserNodemask(pol)) pol.userNodemask = nodes.slice();
  else pol.cpusetMemsAllowed = memsAllowed.slice();
  if (nodesEmpty(inForce)) return -EINVAL;
  if (pol.mode === MPOL_PREFERRED) {
    const only = nodemaskNone();
    only[firstNode(inForce)] = 1;
    pol.nodes = only;
  } else pol.nodes = inForce;
  return 0;
}

/**
 * `mpol_rebind_policy(pol, newmask)` (mm/mempolicy.c, 6.3), as a cpuset's mems change:
 * MPOL_LOCAL is left alone; MPOL_PREFERRED only records the new mems
 * (`mpol_rebind_preferred`); the nodemask modes (`mpol_rebind_nodemask`) take STATIC's
 * user nodes ∩ new mems, RELATIVE's user nodes placed onto the new mems, or else the old
 * nodes remapped from the old mems to the new ones, and fall back to all the new mems
 * when that is empty. Nothing happens when a non-user-mask policy already has these mems.
 */
export function mpolRebindPolicy(pol: Mempolicy | null, newMems: Nodemask): void {
  if (pol === null || pol.mode === MPOL_LOCAL) return;
  if (!storesUserNodemask(pol) && nodesEqual(pol.cpusetMemsAllowed, newMems)) return;
  if (pol.mode === MPOL_PREFERRED) {
    pol.cpusetMemsAllowed = newMems.slice();
    return;
  }
  let tmp: Nodemask;
  if ((pol.flags & MPOL_F_STATIC_NODES) !== 0) tmp = nodesAnd(pol.userNodemask, newMems);
  else if ((pol.flags & MPOL_F_RELATIVE_NODES) !== 0)
    tmp = mpolRelativeNodemask(pol.userNodemask, newMems);
  else {
    tmp = nodesRemap(pol.nodes, pol.cpusetMemsAllowed, newMems);
    pol.cpusetMemsAllowed = newMems.slice();
  }
  pol.nodes = nodesEmpty(tmp) ? newMems.slice() : tmp;
}

/**
 * `__mpol_equal(a, b)` (mm/mempolicy.c, 6.3): same mode and flags, the same user mask for
 * STATIC / RELATIVE policies, and the same nodes (MPOL_LOCAL has none to compare). Two
 * nulls (the default) are equal.
 */
export function mpolEqual(a: Mempolicy | null, b: Mempolicy | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (a.mode !== b.mode || a.flags !== b.flags || a.homeNode !== b.homeNode) return false;
  if (storesUserNodemask(a) && !nodesEqual(a.userNodemask, b.userNodemask)) return false;
  if (a.mode === MPOL_LOCAL) return true;
  return nodesEqual(a.nodes, b.nodes);
}

/**
 * Per-task memory-policy state, as the kernel keeps it in `struct task_struct`
 * (`mempolicy`, `il_prev`, `mems_allowed`; include/linux/sched.h, 6.3). A task that is
 * not in `policy` runs under the default policy (local allocation); a task that is not in
 * `memsAllowed` may use every node (the root cpuset). The system-call layer fills these.
 */
export class TaskMempolicies {
  /** `task->mempolicy`: set by set_mempolicy. */
  readonly policy = new Map<Task, Mempolicy>();
  /** `task->il_prev`: the node of the task's last interleaved allocation. */
  readonly ilPrev = new Map<Task, number>();
  /** `task->mems_allowed`: the task's cpuset mems (`cpuset_current_mems_allowed`). */
  readonly memsAllowed = new Map<Task, Nodemask>();
}

/** Node fallback orders (`node_zonelists`), per machine: itself first, then by distance. */
const zonelists = new WeakMap<PhysicalMemory, Int32Array[]>();

/**
 * The zonelist of node `nid` (`build_zonelists`, as @mmsim/folio builds its fallback:
 * nearest first by the machine's distance table, `nodeFallbackOrder`).
 */
export function nodeZonelist(mem: PhysicalMemory, nid: number): Int32Array {
  let lists = zonelists.get(mem);
  if (lists === undefined) {
    lists = [];
    for (let n = 0; n < mem.nrNodes; n++) lists.push(Int32Array.from(nodeFallbackOrder(mem, n)));
    zonelists.set(mem, lists);
  }
  return lists[nid]!;
}

/**
 * `__alloc_pages(gfp, order, preferred_nid, nodemask)` (mm/page_alloc.c, 6.3) for a user
 * allocation of the current task: the zonelist of `preferredNid` is walked, skipping nodes
 * not in `nodemask` (when given) and, with cpusets (`__GFP_HARDWALL`, ALLOC_CPUSET),
 * nodes not in the task's `mems_allowed`; `thisNode` (`__GFP_THISNODE`) tries the
 * preferred node only. Returns the folio or -ENOMEM.
 */
export function allocPagesNodemask(
  mem: PhysicalMemory,
  order: number,
  preferredNid: number,
  nodemask: Nodemask | null,
  memsAllowed: Nodemask | undefined,
  thisNode: boolean,
): Folio | number {
  if (nodemask === null && memsAllowed === undefined) {
    return folioAlloc(mem, order, preferredNid, thisNode ? { thisNode: true } : undefined);
  }
  const list = nodeZonelist(mem, preferredNid);
  const last = thisNode ? 1 : list.length;
  for (let i = 0; i < last; i++) {
    const n = list[i]!;
    if (nodemask !== null && nodemask[n] === 0) continue;
    if (memsAllowed !== undefined && memsAllowed[n] === 0) continue;
    const folio = folioAlloc(mem, order, n, { thisNode: true });
    if (folio >= 0) return folio;
  }
  return -ENOMEM;
}

/**
 * `offset_il_node(pol, n)` (mm/mempolicy.c, 6.3): the (n mod weight)-th node of the
 * policy's nodes; `fallback` (the local node) when the mask is empty.
 */
export function offsetIlNode(pol: Mempolicy, n: number, fallback: number): number {
  const nnodes = nodesWeight(pol.nodes);
  if (nnodes === 0) return fallback;
  return ordToPos(pol.nodes, n % nnodes);
}

/** `node_states[N_MEMORY]`: the machine's nodes that have memory. */
export function nodesWithMemory(mem: PhysicalMemory): Nodemask {
  const mask = nodemaskNone();
  for (let n = 0; n < mem.nrNodes; n++) if (nodeSpannedPages(mem, n) > 0) mask[n] = 1;
  return mask;
}
