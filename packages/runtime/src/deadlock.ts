import type { Task } from './task.js';

export interface TaskRef {
  readonly id: number;
  readonly name: string;
  readonly cpu: number;
}

/** One sleeping task: where it sleeps, on what, and who holds that. */
export interface WaitEdge {
  readonly task: TaskRef;
  /** The kernel function the task sleeps in, e.g. `folio_lock` or `mutex_lock`. */
  readonly waitsIn: string;
  readonly resource: string;
  readonly heldBy: readonly TaskRef[];
}

/**
 * What the runtime found when no task could run but some slept: the wait-for cycle
 * (empty when the tasks wait for something nobody holds, a lost wake-up), and every
 * sleeping task.
 */
export interface DeadlockReport {
  readonly cycle: readonly WaitEdge[];
  readonly blocked: readonly WaitEdge[];
}

function ref(task: Task): TaskRef {
  return { id: task.id, name: task.name, cpu: task.cpu.id };
}

function edgeOf(task: Task): WaitEdge {
  const waiting = task.waiting;
  return {
    task: ref(task),
    waitsIn: waiting?.waitsIn ?? '?',
    resource: waiting?.resource.name ?? '?',
    heldBy: (waiting?.resource.holders() ?? []).map(ref),
  };
}

/**
 * Builds the wait-for graph of the sleeping tasks (task -> holders of what it waits on)
 * and returns the first cycle found, searching from the lowest task id, rotated so that
 * the lowest id comes first.
 */
export function findDeadlock(sleeping: readonly Task[]): DeadlockReport {
  const blocked = [...sleeping].sort((a, b) => a.id - b.id);
  const asleep = new Set(blocked);
  const state = new Map<Task, 'active' | 'done'>();
  const path: Task[] = [];
  let cycle: Task[] = [];

  const visit = (task: Task): boolean => {
    state.set(task, 'active');
    path.push(task);
    const holders = [...(task.waiting?.resource.holders() ?? [])].sort((a, b) => a.id - b.id);
    for (const next of holders) {
      if (!asleep.has(next)) continue;
      const s = state.get(next);
      if (s === 'active') {
        cycle = path.slice(path.indexOf(next));
        return true;
      }
      if (s === undefined && visit(next)) return true;
    }
    path.pop();
    state.set(task, 'done');
    return false;
  };
  for (const task of blocked) {
    if (state.get(task) === undefined && visit(task)) break;
  }
  if (cycle.length > 0) {
    let low = 0;
    cycle.forEach((t, i) => {
      if (t.id < (cycle[low] as Task).id) low = i;
    });
    cycle = [...cycle.slice(low), ...cycle.slice(0, low)];
  }
  return { cycle: cycle.map(edgeOf), blocked: blocked.map(edgeOf) };
}

function name(t: TaskRef): string {
  return `${t.name}-${t.id} [cpu ${t.cpu}]`;
}

/** The report as text, one line per edge. */
export function formatDeadlock(report: DeadlockReport): string {
  const lines: string[] = [];
  if (report.cycle.length > 0) {
    lines.push(`deadlock: a wait-for cycle of ${report.cycle.length} task(s)`);
    for (const e of report.cycle) {
      const holders = e.heldBy.map(name).join(', ') || 'nobody';
      lines.push(`  ${name(e.task)} waits in ${e.waitsIn} for ${e.resource}, held by ${holders}`);
    }
  } else {
    lines.push('deadlock: every task sleeps, but no wait-for cycle (a lost wake-up?)');
  }
  const inCycle = new Set(report.cycle.map((e) => e.task.id));
  const others = report.blocked.filter((e) => !inCycle.has(e.task.id));
  if (others.length > 0) {
    lines.push('also sleeping:');
    for (const e of others) {
      const holders = e.heldBy.map(name).join(', ') || 'nobody';
      lines.push(`  ${name(e.task)} waits in ${e.waitsIn} for ${e.resource}, held by ${holders}`);
    }
  }
  return lines.join('\n');
}
