import {
  MPOL_MF_MOVE_ALL,
  mpolDup,
  mpolRebindPolicy,
  type Nodemask,
  nodemaskOf,
  nodesEqual,
} from '@mmsim/rmap';
import { EBUSY, EINVAL, ENOSPC, type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import type { Cpuset } from './cpuset.js';
import { normaliseMems } from './cpuset.js';
import { doMigratePages } from './migrate-pages.js';
import type { Process } from './process.js';
import type { Userland } from './userland.js';

/*
 * The memory side of cpusets (kernel/cgroup/cpuset.c, Linux 6.3): a task's `mems_allowed`
 * follows its cpuset's mems, moving a task to another cpuset (`cpuset_attach`) or changing
 * `cpuset.mems` (`update_nodemask`) rebinds the memory policies and, with
 * `cpuset.memory_migrate`, migrates the task's pages (`cpuset_migrate_mm`).
 */

/** `task->mems_allowed` of a thread of a process in `cs` (undefined: every node, the root). */
function memsOf(userland: Userland, cs: Cpuset): Nodemask | undefined {
  return cs === userland.rootCpuset ? undefined : nodemaskOf(cs.mems);
}

/**
 * What `copy_process` (kernel/fork.c, 6.3) gives a new thread for memory policy: the
 * creating thread's policy (`mpol_dup`; none when no thread of the model creates it) and
 * the cpuset's mems as its `mems_allowed`.
 */
export function mempolicyTaskInit(userland: Userland, process: Process, task: Task): void {
  const vm = userland.kernel.vm;
  vm.setTaskMemsAllowed(task, memsOf(userland, process.cpuset));
  const creator = userland.kernel.rt.currentTask;
  if (creator !== null && creator !== task) {
    const pol = mpolDup(vm.taskMempolicy(creator));
    if (pol !== null) vm.setTaskMempolicy(task, pol);
  }
}

/**
 * `cpuset_change_task_nodemask(tsk, newmems)` (kernel/cgroup/cpuset.c, 6.3): the task's
 * policy is rebound (`mpol_rebind_task`) and its `mems_allowed` becomes the new mems.
 */
function changeTaskNodemask(userland: Userland, task: Task, newMems: Nodemask, cs: Cpuset): void {
  const vm = userland.kernel.vm;
  mpolRebindPolicy(vm.taskMempolicy(task), newMems);
  vm.setTaskMemsAllowed(task, memsOf(userland, cs));
}

/**
 * `cpuset_migrate_mm(mm, from, to)` (kernel/cgroup/cpuset.c, 6.3): nothing when the masks
 * are equal; else `do_migrate_pages(mm, from, to, MPOL_MF_MOVE_ALL)`. The kernel queues
 * this on a workqueue and waits for it (`cpuset_post_attach`) before the write returns;
 * the model runs it in the writer. Returns what do_migrate_pages returns.
 */
function* cpusetMigrateMm(
  userland: Userland,
  process: Process,
  from: Nodemask,
  to: Nodemask,
): KernelGen<number> {
  const mm = process.hasExited ? null : process.mm;
  if (mm === null || nodesEqual(from, to)) return 0;
  return yield* doMigratePages(userland.kernel, mm, from, to, MPOL_MF_MOVE_ALL);
}

/**
 * Moving a process into a cpuset (writing its pid to `tasks` or `cgroup.procs`:
 * `cpuset_can_attach`, then `cpuset_attach`, kernel/cgroup/cpuset.c, 6.3): a cpuset with
 * no mems is -ENOSPC; each thread's policy is rebound and its `mems_allowed` set to the
 * new mems; the policies of the process's VMAs are rebound (`mpol_rebind_mm`), and with
 * the new cpuset's `memory_migrate` the pages on the old cpuset's mems are migrated to
 * the new ones (`cpuset_migrate_mm`, MPOL_MF_MOVE_ALL). Returns 0 or -errno.
 */
export function* cpusetAttach(userland: Userland, process: Process, cs: Cpuset): KernelGen<number> {
  if (cs.mems.length === 0) return -ENOSPC;
  const oldcs = process.cpuset;
  const from = nodemaskOf(oldcs.mems);
  const to = nodemaskOf(cs.mems);
  process.cpuset = cs;
  for (const task of process.threads) changeTaskNodemask(userland, task, to, cs);
  const mm = process.hasExited ? null : process.mm;
  if (mm === null) return 0;
  yield* userland.kernel.vm.mpolRebindMm(mm, to);
  if (cs.memoryMigrate) {
    const r = yield* cpusetMigrateMm(userland, process, from, to);
    if (r < 0) return r;
  }
  return 0;
}

/**
 * Writing `cpuset.mems` (`update_nodemask` -> `update_tasks_nodemask`,
 * kernel/cgroup/cpuset.c, 6.3): nodes outside the parent's mems are -EINVAL, an empty
 * set for a cpuset with processes -ENOSPC, a set that leaves out a child cpuset's nodes
 * -EBUSY (`validate_change`); the same mems change nothing. Then every process of the
 * cpuset has its threads' policies and `mems_allowed` updated, its VMA policies rebound,
 * and with `memory_migrate` its pages on the old mems migrated to the new ones. Returns 0
 * or -errno.
 */
export function* cpusetSetMems(
  userland: Userland,
  cs: Cpuset,
  mems: readonly number[],
): KernelGen<number> {
  if (cs === userland.rootCpuset) {
    throw new MmsimError('INVALID_ARGUMENT', 'the root cpuset has every node; its mems are fixed');
  }
  const wanted = normaliseMems(mems, `cpuset ${cs.name}`);
  const parent = cs.parent ?? userland.rootCpuset;
  if (wanted.some((n) => !parent.allows(n))) return -EINVAL;
  const processes = userland.processes.filter((p) => p.cpuset === cs && !p.hasExited);
  if (wanted.length === 0 && processes.length > 0) return -ENOSPC;
  for (const child of userland.cpusets) {
    if (child.parent === cs && child.mems.some((n) => !wanted.includes(n))) return -EBUSY;
  }
  const from = nodemaskOf(cs.mems);
  const to = nodemaskOf(wanted);
  if (nodesEqual(from, to)) return 0;
  cs.mems = wanted;
  for (const p of processes) {
    for (const task of p.threads) changeTaskNodemask(userland, task, to, cs);
    if (p.mm === null) continue;
    yield* userland.kernel.vm.mpolRebindMm(p.mm, to);
    if (cs.memoryMigrate) {
      const r = yield* cpusetMigrateMm(userland, p, from, to);
      if (r < 0) return r;
    }
  }
  return 0;
}
