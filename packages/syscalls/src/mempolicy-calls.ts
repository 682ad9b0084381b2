import { type Folio, FolioList, folioNrPages, folioPut, folioTryGet } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_MEMPOLICY_MBIND } from '@mmsim/migrate';
import {
  type IsolateFolioFn,
  type Mempolicy,
  type MmView,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_F_ADDR,
  MPOL_F_MEMS_ALLOWED,
  MPOL_F_NODE,
  MPOL_F_NUMA_BALANCING,
  MPOL_F_RELATIVE_NODES,
  MPOL_F_STATIC_NODES,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_MAX,
  MPOL_MF_DISCONTIG_OK,
  MPOL_MF_INVERT,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  MPOL_MF_STRICT,
  MPOL_MF_VALID,
  MPOL_MODE_FLAGS,
  mpolNew,
  mpolSetNodemask,
  type Nodemask,
  nextNodeIn,
  nodemaskNone,
  nodemaskOf,
  PAGE_SIZE,
  VM_FAULT_ERROR,
} from '@mmsim/rmap';
import { EFAULT, EINVAL, EIO, EPERM, type KernelGen, MmsimError } from '@mmsim/runtime';
import { CAP_SYS_NICE } from './creds.js';
import { copyNodesToUser, getNodes, type NodemaskArg } from './nodemask-arg.js';
import type { Process } from './process.js';
import type { Sys } from './sys.js';

/*
 * set_mempolicy(2), get_mempolicy(2) and mbind(2) (mm/mempolicy.c, Linux 6.3). The page
 * walk, the VMA policies and the allocation rules are the rmap package's; these are the
 * system-call entries: argument checks in the kernel's order, the cpuset's mems, the
 * credentials, and the migration of what mbind queues.
 */

/**
 * `cpuset_current_mems_allowed` of a process's threads: its cpuset's mems (the model
 * keeps one cpuset per process).
 */
export function currentMemsAllowed(process: Process): Nodemask {
  return nodemaskOf(process.cpuset.mems);
}

/**
 * `sanitize_mpol_flags(mode, flags)` (mm/mempolicy.c, 6.3): the mode flags come off the
 * mode; a mode from MPOL_MAX on, STATIC with RELATIVE, or MPOL_F_NUMA_BALANCING on
 * anything but MPOL_BIND is -EINVAL. Returns `[mode, flags]` or -EINVAL.
 */
export function sanitizeMpolFlags(modeArg: number): readonly [number, number] | number {
  const flags = modeArg & MPOL_MODE_FLAGS;
  const mode = modeArg & ~MPOL_MODE_FLAGS;
  if (mode < 0 || mode >= MPOL_MAX) return -EINVAL;
  if ((flags & MPOL_F_STATIC_NODES) !== 0 && (flags & MPOL_F_RELATIVE_NODES) !== 0) {
    return -EINVAL;
  }
  if ((flags & MPOL_F_NUMA_BALANCING) !== 0 && mode !== MPOL_BIND) return -EINVAL;
  return [mode, flags];
}

function checkInt(what: string, v: unknown): void {
  if (!Number.isInteger(v)) {
    throw new MmsimError('INVALID_ARGUMENT', `${what} must be an integer, got ${String(v)}`);
  }
}

/**
 * `kernel_set_mempolicy(mode, nmask, maxnode)` -> `do_set_mempolicy` (mm/mempolicy.c, 6.3):
 * the mode's flags checked, the mask read (`get_nodes`), the policy made (`mpol_new`) and
 * its nodes set within the caller's cpuset mems (`mpol_set_nodemask`: -EINVAL when none
 * is left); then it becomes the calling thread's policy (MPOL_DEFAULT: none), an
 * interleave restarting from the first node. Returns 0 or -errno.
 */
export function* kernelSetMempolicy(
  sys: Sys,
  modeArg: number,
  nmask: NodemaskArg,
  maxnode: number,
): KernelGen<number> {
  checkInt('set_mempolicy mode', modeArg);
  const sanitized = sanitizeMpolFlags(modeArg);
  if (typeof sanitized === 'number') return sanitized;
  const [mode, modeFlags] = sanitized;
  const nodes = yield* getNodes(sys, nmask, maxnode);
  if (typeof nodes === 'number') return nodes;
  const pol = mpolNew(mode, modeFlags, nodes);
  if (typeof pol === 'number') return pol;
  const vm = sys.userland.kernel.vm;
  const err = mpolSetNodemask(pol, nodes, currentMemsAllowed(sys.process), vm.nodesWithMemory());
  if (err !== 0) return err;
  vm.setTaskMempolicy(sys.task, pol);
  return 0;
}

/** `get_policy_nodemask(pol, nodes)` (mm/mempolicy.c, 6.3): the nodes a policy shows. */
function getPolicyNodemask(pol: Mempolicy | null): Nodemask {
  if (pol === null || pol.mode === MPOL_LOCAL) return nodemaskNone();
  return pol.nodes;
}

/**
 * `lookup_node(mm, addr)` (mm/mempolicy.c, 6.3): the node of the page at `addr`, faulted in
 * for read first as `get_user_pages` would (an untouched anonymous page becomes the zero
 * page); -EFAULT when it cannot be.
 */
function* lookupNode(k: Kernel, mm: MmView, addr: number): KernelGen<number> {
  let nid = k.vm.nodeOfAddress(mm, addr);
  if (nid >= 0) return nid;
  const r = yield* k.vm.handleUserFault(mm, addr - (addr % PAGE_SIZE), 0);
  if ((r & VM_FAULT_ERROR) !== 0) return -EFAULT;
  nid = k.vm.nodeOfAddress(mm, addr);
  return nid;
}

/** Where get_mempolicy writes its `int *mode`. */
export interface ModeOut {
  value: number;
}

/**
 * `kernel_get_mempolicy(policy, nmask, maxnode, addr, flags)` -> `do_get_mempolicy`
 * (mm/mempolicy.c, 6.3): a mask shorter than the machine's nodes is -EINVAL; flags other
 * than MPOL_F_NODE / ADDR / MEMS_ALLOWED are -EINVAL; MPOL_F_MEMS_ALLOWED (alone, else
 * -EINVAL) gives the cpuset's mems; MPOL_F_ADDR looks at the VMA's policy (-EFAULT without
 * a VMA; the task's policy is not consulted there), an address without it is -EINVAL;
 * MPOL_F_NODE gives the node of the page at the address (with ADDR) or the next node of
 * the thread's interleave policy (-EINVAL for any other policy); else the mode with its
 * mode flags (MPOL_DEFAULT for none). The mask is the user's nodes for STATIC / RELATIVE,
 * else the nodes in force.
 */
export function* kernelGetMempolicy(
  sys: Sys,
  modeOut: ModeOut | null,
  nmask: bigint[] | null,
  maxnode: number,
  addr: number,
  flags: number,
): KernelGen<number> {
  checkInt('get_mempolicy maxnode', maxnode);
  checkInt('get_mempolicy addr', addr);
  checkInt('get_mempolicy flags', flags);
  const k = sys.userland.kernel;
  if (nmask !== null && maxnode < k.nrNodes) return -EINVAL;
  if ((flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED)) !== 0) return -EINVAL;
  let mode = 0;
  let nodes: Nodemask;
  if ((flags & MPOL_F_MEMS_ALLOWED) !== 0) {
    if ((flags & (MPOL_F_NODE | MPOL_F_ADDR)) !== 0) return -EINVAL;
    nodes = currentMemsAllowed(sys.process);
  } else {
    const mm = sys.mm;
    let pol: Mempolicy | null = k.vm.taskMempolicy(sys.task);
    const taskPol = pol;
    if ((flags & MPOL_F_ADDR) !== 0) {
      const sem = mm.mmapLock;
      if (!sem.downReadTrylock()) yield* sem.downRead('do_get_mempolicy');
      const vma = k.vm.vmaLookup(mm, addr);
      pol = vma === null ? null : vma.policy;
      sem.upRead();
      if (vma === null) return -EFAULT;
    } else if (addr !== 0) return -EINVAL;
    if ((flags & MPOL_F_NODE) !== 0) {
      if ((flags & MPOL_F_ADDR) !== 0) {
        const nid = yield* lookupNode(k, mm, addr);
        if (nid < 0) return nid;
        mode = nid;
      } else if (pol !== null && pol === taskPol && pol.mode === MPOL_INTERLEAVE) {
        mode = nextNodeIn(k.vm.taskIlPrev(sys.task), pol.nodes);
      } else return -EINVAL;
    } else {
      mode = pol === null ? MPOL_DEFAULT : pol.mode | (pol.flags & MPOL_MODE_FLAGS);
    }
    const storesUser =
      pol !== null && (pol.flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)) !== 0;
    nodes = storesUser ? pol!.userNodemask : getPolicyNodemask(pol);
  }
  if (modeOut !== null) modeOut.value = mode;
  if (nmask !== null) return copyNodesToUser(nmask, maxnode, nodes);
  return 0;
}

/**
 * Isolation for the mempolicy page walk (`migrate_folio_add`): a reference for the
 * duration, `folio_isolate_lru`, the NR_ISOLATED count, onto `list`.
 */
export function isolateOnto(k: Kernel, list: FolioList): IsolateFolioFn {
  return function* isolate(folio: Folio): KernelGen<boolean> {
    const mem = k.mem;
    if (!folioTryGet(mem, folio)) return false;
    const isolated = yield* k.lru.folioIsolateLru(folio);
    if (isolated) {
      list.addTail(folio);
      k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
      folioPut(mem, folio);
    } else yield* k.lru.folioPut(folio);
    return isolated;
  };
}

/**
 * `kernel_mbind(start, len, mode, nmask, maxnode, flags)` -> `do_mbind` (mm/mempolicy.c,
 * 6.3), in the kernel's order: mode flags (`sanitize_mpol_flags`) and the mask
 * (`get_nodes`); flags outside MPOL_MF_VALID -EINVAL; MOVE_ALL without CAP_SYS_NICE
 * -EPERM; a misaligned start -EINVAL; MPOL_DEFAULT drops STRICT; the length rounded up to
 * pages (a wrap is -EINVAL, an empty range 0); the policy made (`mpol_new`; the default
 * policy tolerates holes) and, under `mmap_lock` for write, given its nodes within the
 * cpuset (`mpol_set_nodemask`). Then `queue_pages_range` isolates the folios of the range
 * that are not on the policy's nodes (with MOVE / MOVE_ALL; -EFAULT for a hole, -EIO
 * for STRICT alone over a misplaced page), `mbind_range` sets the policy on the range's
 * VMAs (split and merged), and the queued folios migrate (MIGRATE_SYNC,
 * MR_MEMPOLICY_MBIND) to folios allocated by the new policy (`new_page`); what failed is
 * put back. A folio that could not be queued, or (with STRICT) one that did not migrate,
 * makes the call -EIO. Returns 0 or -errno.
 */
export function* kernelMbind(
  sys: Sys,
  start: number,
  len: number,
  modeArg: number,
  nmask: NodemaskArg,
  maxnode: number,
  flagsArg: number,
): KernelGen<number> {
  checkInt('mbind addr', start);
  checkInt('mbind len', len);
  checkInt('mbind mode', modeArg);
  checkInt('mbind flags', flagsArg);
  const sanitized = sanitizeMpolFlags(modeArg);
  if (typeof sanitized === 'number') return sanitized;
  const [mode, modeFlags] = sanitized;
  const nodes = yield* getNodes(sys, nmask, maxnode);
  if (typeof nodes === 'number') return nodes;
  let flags = flagsArg;
  if ((flags & ~MPOL_MF_VALID) !== 0) return -EINVAL;
  if ((flags & MPOL_MF_MOVE_ALL) !== 0 && !sys.capable(CAP_SYS_NICE)) return -EPERM;
  if (start < 0 || start % PAGE_SIZE !== 0) return -EINVAL;
  if (mode === MPOL_DEFAULT) flags &= ~MPOL_MF_STRICT;
  if (len < 0) return -EINVAL; // start + len wraps round
  const end = start + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (end === start) return 0;
  const pol = mpolNew(mode, modeFlags, nodes);
  if (typeof pol === 'number') return pol;
  if (pol === null) flags |= MPOL_MF_DISCONTIG_OK;
  const k = sys.userland.kernel;
  const move = (flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) !== 0;
  if (move) yield* k.lru.lruCacheDisable();
  const mm = sys.mm;
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('do_mbind');
  let err = mpolSetNodemask(pol, nodes, currentMemsAllowed(sys.process), k.vm.nodesWithMemory());
  if (err === 0) {
    const list = new FolioList(k.mem);
    const queued = yield* k.vm.queuePagesRange(
      mm,
      start,
      end,
      nodes,
      flags | MPOL_MF_INVERT,
      isolateOnto(k, list),
    );
    if (queued.ret < 0) err = queued.ret;
    else err = yield* k.vm.mbindRange(mm, start, end, pol);
    if (err === 0) {
      let nrFailed = 0;
      if (list.size > 0) {
        const r = yield* k.migrate.migratePages(
          list,
          (src: Folio) => k.vm.mbindNewFolio(mm, start, src),
          null,
          null,
          MIGRATE_SYNC,
          MR_MEMPOLICY_MBIND,
        );
        nrFailed = r.rc;
        if (nrFailed !== 0 && list.size > 0) yield* k.migrate.putbackMovablePages(list);
      }
      if (queued.ret > 0 || (nrFailed !== 0 && (flags & MPOL_MF_STRICT) !== 0)) err = -EIO;
    } else if (list.size > 0) yield* k.migrate.putbackMovablePages(list);
  }
  sem.upWrite();
  if (move) k.lru.lruCacheEnable();
  return err;
}
