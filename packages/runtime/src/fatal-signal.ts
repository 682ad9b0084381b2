import type { FaultPoint, FaultPoints } from './fault-points.js';
import { PF_KTHREAD, type Task } from './task.js';

/**
 * The fault site that delivers SIGKILL to the task at a `fatal_signal_pending(current)`
 * check: a user (a process killed by the OOM killer, or by its owner) can send it at any
 * moment, so a check is where the kernel first sees it.
 */
export const FATAL_SIGNAL_SITE = 'signal.fatal_signal_pending';

/** Registers the fatal-signal site of a runtime's fault sites (the runtime does, once). */
export function registerFatalSignalSite(faults: FaultPoints): FaultPoint {
  return faults.register(
    FATAL_SIGNAL_SITE,
    'SIGKILL arrives just before a fatal_signal_pending(current) check (compaction: -EINTR / COMPACT_CONTENDED; alloc_contig_range and offline_pages: -EINTR; killable folio waits: -EINTR; GUP (__get_user_pages): -EINTR or the pages pinned so far)',
  );
}

/** What `fatalSignalPending` needs of the runtime (a structural type: no import cycle). */
export interface FatalSignalHost {
  readonly fatalSignalSite: FaultPoint;
  sendFatalSignal(task: Task): void;
}

/**
 * `fatal_signal_pending(p)` (include/linux/sched/signal.h, Linux 6.3: `signal_pending(p)
 * && __fatal_signal_pending(p)`, SIGKILL in the task's pending set). The task's own state
 * (`task.fatalSignalPending`, set by `Runtime.sendFatalSignal`), or, when the fault site
 * `signal.fatal_signal_pending` is configured and fires, a SIGKILL delivered right here:
 * the task keeps it (every later check sees it too). A kernel thread never gets one: a
 * SIGKILL sent to it is dropped (kernel/signal.c `sig_task_ignored`, 6.3: PF_KTHREAD with
 * the default handler), so the site is not consulted for a PF_KTHREAD task. The site
 * consumes the faults random stream only when configured.
 */
export function fatalSignalPending(rt: FatalSignalHost, task: Task): boolean {
  if (task.fatalSignalPending) return true;
  const site = rt.fatalSignalSite;
  if (site.spec === null || (task.flags & PF_KTHREAD) !== 0) return false;
  if (!site.fire()) return false;
  rt.sendFatalSignal(task);
  return true;
}
