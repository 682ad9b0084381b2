import { formatMigrateEvent } from '@mmsim/migrate';
import type { TraceEvent } from '@mmsim/runtime';

/** Formats the fields of one event as its tracepoint's TP_printk would, or null if unknown. */
export type FieldFormatter = (event: TraceEvent) => string | null;

function hex(n: unknown): string {
  return typeof n === 'number' ? n.toString(16) : String(n);
}

/** set_migration_pte / remove_migration_pte (one event class): "addr=%lx, pte=%lx order=%d". */
function formatMigrationPte(e: TraceEvent): string {
  const f = e.fields as Record<string, unknown>;
  return `addr=${hex(f.addr)}, pte=${hex(f.pte)} order=${String(f.order)}`;
}

/**
 * TP_printk of the tracepoints the model emits, as Linux 6.3 prints them
 * (include/trace/events/migrate.h, sched.h, tlb.h). Events without a formatter print
 * their fields as `name=value` pairs in emission order.
 */
const FORMATTERS: Record<string, FieldFormatter> = {
  mm_migrate_pages: formatMigrateEvent,
  mm_migrate_pages_start: formatMigrateEvent,
  set_migration_pte: formatMigrationPte,
  remove_migration_pte: formatMigrationPte,
  // sched_switch: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s ==> next_comm=%s next_pid=%d next_prio=%d"
  sched_switch: (e) => {
    const f = e.fields as Record<string, unknown>;
    return (
      `prev_comm=${String(f.prev_comm)} prev_pid=${String(f.prev_pid)} prev_prio=120 prev_state=R ==> ` +
      `next_comm=${String(f.next_comm)} next_pid=${String(f.next_pid)} next_prio=120`
    );
  },
  // sched_wakeup: "comm=%s pid=%d prio=%d target_cpu=%03d"
  sched_wakeup: (e) => {
    const f = e.fields as Record<string, unknown>;
    const cpu = String(f.target_cpu).padStart(3, '0');
    return `comm=${String(f.comm)} pid=${String(f.pid)} prio=120 target_cpu=${cpu}`;
  },
};

function genericFields(event: TraceEvent): string {
  return Object.entries(event.fields)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

/** The text after `name: ` on an ftrace line. */
export function formatEventFields(event: TraceEvent): string {
  const formatter = FORMATTERS[event.name];
  return (formatter === undefined ? null : formatter(event)) ?? genericFields(event);
}

/** `seconds.microseconds` of a virtual-time stamp in ns, as ftrace's `%5lu.%06lu`. */
export function ftraceTimestamp(ns: number): string {
  const us = Math.floor(ns / 1000);
  const secs = Math.floor(us / 1_000_000);
  const frac = String(us % 1_000_000).padStart(6, '0');
  return `${String(secs).padStart(5, ' ')}.${frac}`;
}

/**
 * One line in the layout of /sys/kernel/tracing/trace (Linux 6.3, irq-info on):
 * `<comm>-<pid> [<cpu>] <flags> <timestamp>: <event>: <fields>`. The five flag columns
 * (irqs-off, need-resched, hardirq/softirq, preempt-depth, migrate-disable) are not
 * modelled and print as dots.
 */
export function formatFtraceLine(event: TraceEvent): string {
  const comm = event.comm.length > 16 ? event.comm.slice(0, 16) : event.comm;
  const head = `${comm.padStart(16, ' ')}-${String(event.pid).padEnd(7, ' ')}`;
  const cpu = event.cpu < 0 ? '000' : String(event.cpu).padStart(3, '0');
  return `${head} [${cpu}] ..... ${ftraceTimestamp(event.ts)}: ${event.name}: ${formatEventFields(event)}`;
}

/** The header of the `trace` file for a machine of `nrCpus` CPUs. */
export function ftraceHeader(nrCpus: number): string {
  return [
    '# tracer: nop',
    '#',
    `# entries-in-buffer/entries-written: streamed   #P:${nrCpus}`,
    '#',
    '#                                _-----=> irqs-off/BH-disabled',
    '#                               / _----=> need-resched',
    '#                              | / _---=> hardirq/softirq',
    '#                              || / _--=> preempt-depth',
    '#                              ||| / _-=> migrate-disable',
    '#                              |||| /     delay',
    '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION',
    '#              | |         |   |||||     |         |',
    '',
  ].join('\n');
}
