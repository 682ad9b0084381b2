import { type Runtime, type TimelineRole, type TraceEvent, VmStat } from '@mmsim/runtime';
import type { TextWriter, TraceSink } from './sink.js';

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
 * Streams a runtime's tracepoints as Chrome trace-event JSON (the format chrome://tracing
 * and ui.perfetto.dev open): a track per CPU showing which task ran there, a track per
 * task with an instant per tracepoint, a slice per traced kernel function
 * (funcgraph_entry / funcgraph_exit: the unmap, flush and move phases of each batch), the
 * slices and flows that tracepoints declare as their timeline role (a `migrate_pages` slice
 * per call, a flow from each migration entry's installation to its removal), counter
 * tracks for vmstat items, and the run's metadata. Timestamps are virtual time (the JSON
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
  /** Open function slices per task, closed at `close()` if a run ended inside one. */
  const openCalls = new Map<number, number>();
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
    const id = openFlows.get(key)?.shift();
    if (id !== undefined) emit({ ...base, ph: 'f', bp: 'e', id });
  };

  const listener = (event: TraceEvent) => {
    if (event.pid !== 0 && !namedTasks.has(event.pid)) {
      namedTasks.add(event.pid);
      emit({
        ph: 'M',
        pid: TASK_PID,
        tid: event.pid,
        name: 'thread_name',
        args: { name: `${event.comm}-${event.pid}` },
      });
    }
    if (event.cpu >= 0) {
      if (event.name === 'sched_switch') {
        const f = event.fields as { next_pid: number; next_comm: string };
        runOn(event, f.next_pid, f.next_comm);
      } else if (event.pid !== 0) {
        runOn(event, event.pid, event.comm);
      }
    }
    if (event.name === 'funcgraph_entry' || event.name === 'funcgraph_exit') {
      const entry = event.name === 'funcgraph_entry';
      const depth = (openCalls.get(event.pid) ?? 0) + (entry ? 1 : -1);
      openCalls.set(event.pid, depth);
      const func = (event.fields as { func: string }).func;
      emit({ ph: entry ? 'B' : 'E', pid: TASK_PID, tid: event.pid, ts: us(event.ts), name: func });
      return;
    }
    const role = rt.trace.timelineOf(event.name);
    if (role !== null && 'slice' in role) {
      emit({
        ph: role.phase === 'begin' ? 'B' : 'E',
        pid: TASK_PID,
        tid: event.pid,
        ts: us(event.ts),
        name: role.slice,
        args: event.fields,
      });
    }
    emit({
      ph: 'i',
      s: 't',
      pid: TASK_PID,
      tid: event.pid,
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
      // A task that never returned (a deadlock) leaves its calls open: end them at its CPU's clock.
      for (const [pid, depth] of openCalls) {
        const task = rt.taskById(pid);
        const ts = us(task?.cpu.clock ?? 0);
        for (let i = 0; i < depth; i++) emit({ ph: 'E', pid: TASK_PID, tid: pid, ts });
      }
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
