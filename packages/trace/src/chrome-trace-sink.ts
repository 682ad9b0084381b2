import {
  Completion,
  Mutex,
  type Runtime,
  RwSemaphore,
  TASK_STATE_UNINTERRUPTIBLE,
  type Task,
  type TimelineRole,
  type TraceEvent,
  VmStat,
} from '@mmsim/runtime';
import type { TextWriter, TraceSink } from './sink.js';

/** sched_switch's `prev_state` of a task that went to sleep (TASK_UNINTERRUPTIBLE). */
const TASK_UNINTERRUPTIBLE = TASK_STATE_UNINTERRUPTIBLE;

/** Process ids of the two groups of tracks. */
const CPU_PID = 1;
const TASK_PID = 2;

/** vmstat items drawn as counter tracks when a VmStat is given. */
const COUNTERS = [
  'pgmigrate_success',
  'pgmigrate_fail',
  'thp_migration_success',
  'nr_isolated_anon',
  'nr_isolated_file',
  'nr_tlb_remote_flush',
] as const;

export interface ChromeTraceOptions {
  /** Draw counter tracks for a few vmstat items (sampled when a tracepoint fires). */
  readonly vmstat?: VmStat;
}

export interface ChromeTraceSink extends TraceSink {
  /** Closes the JSON with run metadata (seed, variant, scenario, replay token...). */
  close(metadata?: Readonly<Record<string, string | number>>): void;
}

/**
 * What a sleeping task waits for, as a timeline names its sleep: `folio lock of pfn 0x1200`,
 * `writeback of pfn 0x1200`, `migration entry of pfn 0x1200`, `buffer lock of <bh>`,
 * `rwsem <name>`, `mutex <name>`, `completion <name>`, or the resource's own name.
 */
export function sleepLabel(task: Task): string {
  const waiting = task.waiting;
  if (waiting === null) return task.state === 'timed' ? 'timed sleep' : 'sleep';
  const { resource, waitsIn } = waiting;
  if (resource instanceof Mutex) return `mutex ${resource.name}`;
  if (resource instanceof RwSemaphore) return `rwsem ${resource.name}`;
  if (resource instanceof Completion) return `completion ${resource.name}`;
  const name = resource.name;
  const folio = /^folio (\S+) (PG_locked|PG_writeback)$/.exec(name);
  if (folio !== null) {
    if (folio[2] === 'PG_writeback') return `writeback of pfn ${folio[1]}`;
    if (waitsIn.includes('migration_entry_wait')) return `migration entry of pfn ${folio[1]}`;
    return `folio lock of pfn ${folio[1]}`;
  }
  if (name.endsWith(' BH_Lock')) return `buffer lock of ${name.slice(0, -' BH_Lock'.length)}`;
  return name;
}

/**
 * Streams a runtime's tracepoints as Chrome trace-event JSON (the format chrome://tracing
 * and ui.perfetto.dev open): a track per CPU showing which task ran there, a track per
 * task with an instant per tracepoint, a slice per traced kernel function
 * (funcgraph_entry / funcgraph_exit: the unmap, flush and move phases of each batch), the
 * slices and flows that tracepoints declare as their timeline role (a `migrate_pages` slice
 * per call, a flow from each migration entry's installation to its removal), counter
 * tracks for vmstat items, and the run's metadata. A task's track also shows each of its
 * sleeps as a slice named by what it waits for (`sleepLabel`), with a flow from the
 * waker's `sched_wakeup` to the end of the sleep; a CPU's track is empty while it idles.
 * Slices still open when the trace closes (a deadlock) end at the run's last timestamp. Timestamps are virtual time (the JSON
 * is in microseconds, with nanosecond decimals), so the same seed gives the same bytes.
 */
export function attachChromeTraceSink(
  rt: Runtime,
  write: TextWriter,
  options: ChromeTraceOptions = {},
): ChromeTraceSink {
  let first = true;
  const emit = (record: object) => {
    write(`${first ? '' : ',\n'}${JSON.stringify(record)}`);
    first = false;
  };
  const us = (ns: number) => Math.round(ns) / 1000;
  write('{"traceEvents":[\n');
  emit({ ph: 'M', pid: CPU_PID, name: 'process_name', args: { name: 'CPUs' } });
  emit({ ph: 'M', pid: TASK_PID, name: 'process_name', args: { name: 'Tasks' } });
  rt.cpus.forEach((cpu) => {
    emit({
      ph: 'M',
      pid: CPU_PID,
      tid: cpu.id,
      name: 'thread_name',
      args: { name: `CPU ${cpu.id} (node ${cpu.node})` },
    });
  });

  const namedTasks = new Set<number>();
  const nameTask = (pid: number, comm: string) => {
    if (pid === 0 || namedTasks.has(pid)) return;
    namedTasks.add(pid);
    emit({
      ph: 'M',
      pid: TASK_PID,
      tid: pid,
      name: 'thread_name',
      args: { name: `${comm}-${pid}` },
    });
  };
  /**
   * Open slices per task (function calls, timeline slices, a sleep), closed at `close()`
   * if a run ended inside them.
   */
  const openCalls = new Map<number, number>();
  const depthBy = (pid: number, delta: number) => {
    const depth = (openCalls.get(pid) ?? 0) + delta;
    openCalls.set(pid, depth);
    return depth;
  };
  /** Tasks asleep now: whether the sleep is a timed one (no waker, so no flow). */
  const asleep = new Map<number, boolean>();
  /** The latest timestamp written, in ns: where `close()` ends what is still open. */
  let lastTs = 0;
  /** Flow ids waiting for their end, per flow name and key. */
  const openFlows = new Map<string, number[]>();
  let nextFlow = 1;
  const onCpu = new Map<number, { pid: number; comm: string }>();
  const lastCounter = new Map<string, number>();
  // Resolved once: the listener runs for every tracepoint, so it reads the few counters
  // it draws by id instead of listing every vmstat item.
  const counters = COUNTERS.map((name) => ({ name, ...VmStat.itemId(name) }));

  const runOn = (event: TraceEvent, pid: number, comm: string) => {
    const running = onCpu.get(event.cpu);
    if (running?.pid === pid) return;
    if (running !== undefined) emit({ ph: 'E', pid: CPU_PID, tid: event.cpu, ts: us(event.ts) });
    emit({ ph: 'B', pid: CPU_PID, tid: event.cpu, ts: us(event.ts), name: comm, args: { pid } });
    onCpu.set(event.cpu, { pid, comm });
  };
  const runOff = (event: TraceEvent) => {
    if (!onCpu.has(event.cpu)) return;
    emit({ ph: 'E', pid: CPU_PID, tid: event.cpu, ts: us(event.ts) });
    onCpu.delete(event.cpu);
  };

  const flow = (event: TraceEvent, role: Extract<TimelineRole, { flow: string }>) => {
    const key = `${role.flow}\u0000${String(role.key(event.fields))}`;
    const base = {
      cat: role.category,
      name: role.flow,
      pid: TASK_PID,
      tid: event.pid,
      ts: us(event.ts),
    };
    if (role.phase === 'start') {
      const id = nextFlow++;
      const queue = openFlows.get(key);
      if (queue === undefined) openFlows.set(key, [id]);
      else queue.push(id);
      emit({ ...base, ph: 's', id });
      return;
    }
    const queue = openFlows.get(key);
    if (role.phase === 'step') {
      const id = queue?.[0];
      if (id !== undefined) emit({ ...base, ph: 't', id, args: event.fields });
      return;
    }
    const id = queue?.shift();
    if (queue !== undefined && queue.length === 0) openFlows.delete(key);
    if (id !== undefined) emit({ ...base, ph: 'f', bp: 'e', id });
  };

  /** A sleep of `pid` begins: a slice on its track named by what it waits for. */
  const sleepBegins = (event: TraceEvent, pid: number) => {
    const task = rt.taskById(pid);
    if (task === undefined) return;
    asleep.set(pid, task.waiting === null);
    depthBy(pid, 1);
    const args =
      task.waiting === null
        ? {}
        : { waitsIn: task.waiting.waitsIn, resource: task.waiting.resource.name };
    emit({
      ph: 'B',
      cat: 'sleep',
      pid: TASK_PID,
      tid: pid,
      ts: us(event.ts),
      name: sleepLabel(task),
      args,
    });
  };

  /**
   * `sched_wakeup` of a sleeping task: its sleep ends when its CPU's clock says it is
   * awake, with a flow from the waker (none for a timer's wake-up).
   */
  const sleepEnds = (event: TraceEvent, pid: number) => {
    const timed = asleep.get(pid);
    if (timed === undefined) return;
    asleep.delete(pid);
    const task = rt.taskById(pid);
    const end = us(Math.max(event.ts, task?.cpu.clock ?? 0));
    if (!timed && event.pid !== 0 && event.pid !== pid) {
      const id = nextFlow++;
      const at = us(event.ts);
      const wake = `wake_up ${task?.name ?? '?'}-${pid}`;
      emit({ ph: 'B', cat: 'sleep', pid: TASK_PID, tid: event.pid, ts: at, name: wake });
      emit({ ph: 's', cat: 'sleep', name: 'wake-up', pid: TASK_PID, tid: event.pid, ts: at, id });
      emit({ ph: 'E', pid: TASK_PID, tid: event.pid, ts: at });
      emit({
        ph: 'f',
        bp: 'e',
        cat: 'sleep',
        name: 'wake-up',
        pid: TASK_PID,
        tid: pid,
        ts: end,
        id,
      });
    }
    depthBy(pid, -1);
    emit({ ph: 'E', pid: TASK_PID, tid: pid, ts: end });
  };

  const listener = (event: TraceEvent) => {
    if (event.ts > lastTs) lastTs = event.ts;
    nameTask(event.pid, event.comm);
    if (event.name === 'sched_switch') {
      const f = event.fields as {
        prev_pid: number;
        prev_state: number;
        next_pid: number;
        next_comm: string;
      };
      nameTask(f.next_pid, f.next_comm);
      if (f.next_pid === 0) runOff(event);
      else runOn(event, f.next_pid, f.next_comm);
      // A task that gave up its CPU asleep (not preempted, not ended) starts a sleep.
      if (f.prev_pid !== 0 && f.prev_state === TASK_UNINTERRUPTIBLE) {
        sleepBegins(event, f.prev_pid);
      }
    } else if (event.cpu >= 0 && event.pid !== 0) {
      runOn(event, event.pid, event.comm);
    }
    if (event.name === 'sched_wakeup') sleepEnds(event, (event.fields as { pid: number }).pid);
    if (event.name === 'funcgraph_entry' || event.name === 'funcgraph_exit') {
      const entry = event.name === 'funcgraph_entry';
      depthBy(event.pid, entry ? 1 : -1);
      const func = (event.fields as { func: string }).func;
      emit({ ph: entry ? 'B' : 'E', pid: TASK_PID, tid: event.pid, ts: us(event.ts), name: func });
      return;
    }
    const role = rt.trace.timelineOf(event.name);
    if (role !== null && 'slice' in role) {
      depthBy(event.pid, role.phase === 'begin' ? 1 : -1);
      emit({
        ph: role.phase === 'begin' ? 'B' : 'E',
        pid: TASK_PID,
        tid: event.pid,
        ts: us(event.ts),
        name: role.slice,
        args: event.fields,
      });
    }
    // The idle task's events (a CPU leaving idle, a timer's wake-up) sit on the CPU's track.
    const idle = event.pid === 0 && event.cpu >= 0;
    emit({
      ph: 'i',
      s: 't',
      pid: idle ? CPU_PID : TASK_PID,
      tid: idle ? event.cpu : event.pid,
      ts: us(event.ts),
      name: event.name,
      args: event.fields,
    });
    if (role !== null && 'flow' in role) flow(event, role);
    const vmstat = options.vmstat;
    if (vmstat !== undefined) {
      for (const { name, kind, id } of counters) {
        const value = kind === 'node' ? vmstat.globalNodePageState(id) : vmstat.vmEvent(id);
        if (lastCounter.get(name) === value) continue;
        lastCounter.set(name, value);
        emit({ ph: 'C', pid: TASK_PID, ts: us(event.ts), name, args: { [name]: value } });
      }
    }
  };
  const off = rt.trace.on('*', listener);

  return {
    close(metadata = {}) {
      off();
      // A task that never returned (a deadlock) leaves its sleep and its calls open: they
      // last to the end of the run, so the deadlocked tasks show asleep to the end.
      let end = lastTs;
      for (const cpu of rt.cpus) if (cpu.clock > end) end = cpu.clock;
      const ts = us(end);
      for (const [pid, depth] of openCalls) {
        for (let i = 0; i < depth; i++) {
          const args = i === 0 && asleep.has(pid) ? { args: { unfinished: true } } : {};
          emit({ ph: 'E', pid: TASK_PID, tid: pid, ts, ...args });
        }
      }
      asleep.clear();
      openCalls.clear();
      for (const [cpu] of onCpu) {
        const clock = rt.cpus[cpu]?.clock ?? 0;
        emit({ ph: 'E', pid: CPU_PID, tid: cpu, ts: us(clock) });
      }
      onCpu.clear();
      write(
        `\n],"displayTimeUnit":"ns","metadata":${JSON.stringify({ tool: 'mmsim', ...metadata })}}\n`,
      );
    },
  };
}
