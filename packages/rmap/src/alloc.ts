import { type Folio, folioSetFlag, PG_uptodate } from '@mmsim/folio';
import type { Task } from '@mmsim/runtime';
import { PAGE_SIZE } from './constants.js';
import {
  allocPagesNodemask,
  firstNode,
  type Mempolicy,
  MPOL_BIND,
  MPOL_INTERLEAVE,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
  type Nodemask,
  nextNodeIn,
  nodesIntersects,
  offsetIlNode,
} from './mempolicy.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * `get_vma_policy(vma, addr)` (mm/mempolicy.c, 6.3): the VMA's policy, else the task's
 * (`get_task_policy`), else null for the default (local allocation).
 */
export function getVmaPolicy(ctx: RmapState, vma: Vma | null, task: Task): Mempolicy | null {
  const policies = ctx.taskMempolicies.policy;
  return vma?.policy ?? (policies.size === 0 ? null : (policies.get(task) ?? null));
}

/**
 * `interleave_nodes(pol)` (mm/mempolicy.c, 6.3): the next node of the policy after the
 * task's `il_prev`, which it becomes.
 */
function interleaveNodes(ctx: RmapState, pol: Mempolicy, task: Task): number {
  const prev = ctx.taskMempolicies.ilPrev.get(task) ?? pol.nodes.length - 1;
  const next = nextNodeIn(prev, pol.nodes);
  if (next < pol.nodes.length) ctx.taskMempolicies.ilPrev.set(task, next);
  return next < pol.nodes.length ? next : task.cpu.node;
}

/**
 * `interleave_nid(pol, vma, addr, shift)` (mm/mempolicy.c, 6.3): with a VMA, the node of
 * the allocation's offset in units of its size (`vm_pgoff >> (shift - PAGE_SHIFT)` plus
 * `(addr - vm_start) >> shift`) through `offset_il_node`; without one, `interleave_nodes`.
 */
export function interleaveNid(
  ctx: RmapState,
  pol: Mempolicy,
  vma: Vma | null,
  addr: number,
  order: number,
  task: Task,
): number {
  if (vma === null) return interleaveNodes(ctx, pol, task);
  const pages = 2 ** order;
  const off = Math.floor(vma.pgoff / pages) + Math.floor((addr - vma.start) / (PAGE_SIZE * pages));
  return offsetIlNode(pol, off, task.cpu.node);
}

/**
 * `policy_nodemask(gfp, pol)` (mm/mempolicy.c, 6.3): MPOL_BIND's nodes when they
 * intersect the task's cpuset mems (`cpuset_nodemask_valid_mems_allowed`), the nodes of
 * MPOL_PREFERRED_MANY, else none.
 */
export function policyNodemask(pol: Mempolicy, memsAllowed: Nodemask | undefined): Nodemask | null {
  if (pol.mode === MPOL_BIND) {
    if (memsAllowed === undefined || nodesIntersects(pol.nodes, memsAllowed)) return pol.nodes;
    return null;
  }
  if (pol.mode === MPOL_PREFERRED_MANY) return pol.nodes;
  return null;
}

/**
 * `policy_node(gfp, pol, nd)` (mm/mempolicy.c, 6.3): MPOL_PREFERRED's node, else `nd`
 * (the local node; `home_node` is not modelled).
 */
export function policyNode(pol: Mempolicy, nd: number): number {
  return pol.mode === MPOL_PREFERRED ? firstNode(pol.nodes) : nd;
}

/**
 * `vma_alloc_folio(gfp, order, vma, addr, hugepage)` (mm/mempolicy.c, 6.3) for the current
 * task: the policy is `get_vma_policy`'s. MPOL_INTERLEAVE allocates on `interleave_nid`
 * with fallback (`alloc_page_interleave`); MPOL_PREFERRED_MANY tries its nodes (nearest to
 * the local node first), then any node (`alloc_pages_preferred_many`); a THP of a policy
 * whose mask allows the preferred node tries that node alone first; otherwise the
 * allocation walks from `policy_node` (MPOL_PREFERRED's node, else the faulting CPU's
 * node) over `policy_nodemask` (MPOL_BIND's nodes). Every step honours the task's cpuset
 * `mems_allowed`. The new folio is zero-filled and uptodate
 * (`alloc_zeroed_user_highpage_movable`, `__folio_mark_uptodate`). Returns the folio or
 * -ENOMEM.
 */
export function vmaAllocFolio(
  ctx: RmapState,
  vma: Vma | null,
  order: number,
  addr: number = vma?.start ?? 0,
): Folio | number {
  ctx.rt.charge(ctx.costs.pageAlloc);
  const task = ctx.rt.current;
  const folio = allocByPolicy(ctx, getVmaPolicy(ctx, vma, task), vma, addr, order, task);
  if (folio >= 0) folioSetFlag(ctx.mem, folio, PG_uptodate);
  return folio;
}

/** The allocation of `vmaAllocFolio` under a given policy, without the zero fill. */
export function allocByPolicy(
  ctx: RmapState,
  pol: Mempolicy | null,
  vma: Vma | null,
  addr: number,
  order: number,
  task: Task,
): Folio | number {
  const mem = ctx.mem;
  const local = task.cpu.node;
  const allowed = ctx.taskMempolicies.memsAllowed;
  const mems = allowed.size === 0 ? undefined : allowed.get(task);
  if (pol === null) return allocPagesNodemask(mem, order, local, null, mems, false);
  if (pol.mode === MPOL_INTERLEAVE) {
    const nid = interleaveNid(ctx, pol, vma, addr, order, task);
    return allocPagesNodemask(mem, order, nid, null, mems, false);
  }
  if (pol.mode === MPOL_PREFERRED_MANY) {
    const nid = policyNode(pol, local);
    const first = allocPagesNodemask(mem, order, nid, pol.nodes, mems, false);
    if (first >= 0) return first;
    return allocPagesNodemask(mem, order, nid, null, mems, false);
  }
  const nmask = policyNodemask(pol, mems);
  if (order > 0) {
    const hpageNode = pol.mode === MPOL_PREFERRED ? firstNode(pol.nodes) : local;
    if (nmask === null || nmask[hpageNode] !== 0) {
      const here = allocPagesNodemask(mem, order, hpageNode, null, mems, true);
      if (here >= 0) return here;
      return allocPagesNodemask(mem, order, hpageNode, nmask, mems, false);
    }
  }
  return allocPagesNodemask(mem, order, policyNode(pol, local), nmask, mems, false);
}
