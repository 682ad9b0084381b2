import { FolioList, NUMA_NO_NODE } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, type MigrationTargetControl, MR_SYSCALL } from '@mmsim/migrate';
import {
  type MmView,
  MPOL_MF_DISCONTIG_OK,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  type Nodemask,
  nodemaskNone,
  nodeRemap,
  nodesAnd,
  nodesEmpty,
  nodesSubset,
  nodesWeight,
  TASK_SIZE,
} from '@mmsim/rmap';
import { EINVAL, EPERM, ESRCH, type KernelGen, MmsimError } from '@mmsim/runtime';
import { CAP_SYS_NICE } from './creds.js';
import { currentMemsAllowed, isolateOnto } from './mempolicy-calls.js';
import { getNodes, type NodemaskArg } from './nodemask-arg.js';
import { PTRACE_MODE_READ_REALCREDS, ptraceMayAccess } from './ptrace.js';
import type { Sys } from './sys.js';

/*
 * migrate_pages(2) (mm/mempolicy.c, Linux 6.3): `kernel_migrate_pages`, `do_migrate_pages`
 * and `migrate_to_node`.
 */

/**
 * `migrate_to_node(mm, source, dest, flags)` (mm/mempolicy.c, 6.3): every folio of the
 * whole address space on `source` is queued (`queue_pages_range` from the first VMA to
 * TASK_SIZE with MPOL_MF_DISCONTIG_OK; under MPOL_MF_MOVE a folio mapped more than once is
 * passed over) and migrated to `dest` (`alloc_migration_target` with __GFP_THISNODE,
 * MIGRATE_SYNC, MR_SYSCALL); what did not migrate is put back. The caller holds
 * `mmap_lock` for read. Returns the number of folios not migrated, or -errno.
 */
export function* migrateToNode(
  k: Kernel,
  mm: MmView,
  source: number,
  dest: number,
  flags: number,
): KernelGen<number> {
  const first = mm.vmas[0];
  if (first === undefined) return 0;
  const nmask = nodemaskNone();
  nmask[source] = 1;
  const list = new FolioList(k.mem);
  yield* k.vm.queuePagesRange(
    mm,
    first.start,
    TASK_SIZE,
    nmask,
    flags | MPOL_MF_DISCONTIG_OK,
    isolateOnto(k, list),
  );
  if (list.size === 0) return 0;
  const mtc: MigrationTargetControl = { nid: dest, thisNode: true, reason: MR_SYSCALL };
  const r = yield* k.migrate.migratePages(
    list,
    k.migrate.allocMigrationTarget,
    null,
    mtc,
    MIGRATE_SYNC,
    MR_SYSCALL,
  );
  if (r.rc !== 0 && list.size > 0) yield* k.migrate.putbackMovablePages(list);
  return r.rc;
}

/**
 * `do_migrate_pages(mm, from, to, flags)` (mm/mempolicy.c, 6.3): with the LRU caches
 * disabled and `mmap_lock` held for read, the nodes of `from` are paired with nodes of
 * `to` and each pair migrated (`migrate_to_node`). The pairing keeps the relative
 * position of a node (`node_remap(s, from, to)`), skips a source that maps to itself, and
 * when |from| != |to| skips sources that are in `to`; among the candidates it prefers a
 * destination that is not itself a source still to do (so [2,3,4] -> [3,4,5] moves 4 to
 * 5 first, then 3 to 4, then 2 to 3; [0-7] -> [3,4,5] moves only 0, 1, 2, 6 and 7).
 * Returns the number of folios not migrated, or the first -errno.
 */
export function* doMigratePages(
  k: Kernel,
  mm: MmView,
  from: Nodemask,
  to: Nodemask,
  flags: number,
): KernelGen<number> {
  let busy = 0;
  let err = 0;
  yield* k.lru.lruCacheDisable();
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('do_migrate_pages');
  const tmp = from.slice();
  const sameWeight = nodesWeight(from) === nodesWeight(to);
  while (!nodesEmpty(tmp)) {
    let source = NUMA_NO_NODE;
    let dest = 0;
    for (let s = 0; s < tmp.length; s++) {
      if (tmp[s] === 0) continue;
      if (!sameWeight && to[s] !== 0) continue;
      const d = nodeRemap(s, from, to);
      if (s === d) continue;
      source = s;
      dest = d;
      if (tmp[dest] === 0) break; // a destination no longer pending as a source
    }
    if (source === NUMA_NO_NODE) break;
    tmp[source] = 0;
    err = yield* migrateToNode(k, mm, source, dest, flags);
    if (err > 0) busy += err;
    if (err < 0) break;
  }
  sem.upRead();
  k.lru.lruCacheEnable();
  return err < 0 ? err : busy;
}

/**
 * `kernel_migrate_pages(pid, maxnode, old_nodes, new_nodes)` (mm/mempolicy.c, 6.3), in the
 * kernel's order: both masks read (`get_nodes`: -EFAULT, -EINVAL); the process
 * (`find_task_by_vpid`, pid 0 the caller: -ESRCH); `ptrace_may_access` with
 * PTRACE_MODE_READ_REALCREDS (-EPERM); new nodes outside the target's cpuset mems without
 * CAP_SYS_NICE (-EPERM); new nodes restricted to the caller's cpuset mems, none left
 * (-EINVAL); no mm, a kernel thread or an exited process (-EINVAL). Then
 * `do_migrate_pages` with MPOL_MF_MOVE_ALL when the caller has CAP_SYS_NICE, else
 * MPOL_MF_MOVE. Returns the number of pages not moved, or -errno.
 */
export function* kernelMigratePages(
  sys: Sys,
  pid: number,
  maxnode: number,
  oldNodes: NodemaskArg,
  newNodes: NodemaskArg,
): KernelGen<number> {
  if (!Number.isInteger(pid)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `migrate_pages pid must be an integer, got ${String(pid)}`,
    );
  }
  const oldMask = yield* getNodes(sys, oldNodes, maxnode);
  if (typeof oldMask === 'number') return oldMask;
  const newMaskArg = yield* getNodes(sys, newNodes, maxnode);
  if (typeof newMaskArg === 'number') return newMaskArg;
  const target = pid === 0 ? sys.process : sys.userland.findTaskByVpid(pid);
  if (target === null) return -ESRCH;
  if (!ptraceMayAccess(sys.process, target, PTRACE_MODE_READ_REALCREDS)) return -EPERM;
  const canNice = sys.capable(CAP_SYS_NICE);
  if (!nodesSubset(newMaskArg, currentMemsAllowed(target)) && !canNice) return -EPERM;
  const newMask = nodesAnd(newMaskArg, currentMemsAllowed(sys.process));
  if (nodesEmpty(newMask)) return -EINVAL;
  const mm = target.hasExited ? null : target.mm;
  if (mm === null) return -EINVAL;
  const k = sys.userland.kernel;
  return yield* doMigratePages(k, mm, oldMask, newMask, canNice ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE);
}
