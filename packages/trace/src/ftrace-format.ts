import { formatFieldsGeneric, type TraceEvent } from '@mmsim/runtime';

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
 * modelled and print as dots. `fields` is the event's TP_printk text, which the runtime's
 * trace bus knows (`rt.trace.formatFields(event)`); without it the fields print as
 * `name=value` pairs.
 */
export function formatFtraceLine(
  event: TraceEvent,
  fields: string = formatFieldsGeneric(event.fields),
): string {
  const comm = event.comm.length > 16 ? event.comm.slice(0, 16) : event.comm;
  const head = `${comm.padStart(16, ' ')}-${String(event.pid).padEnd(7, ' ')}`;
  const cpu = event.cpu < 0 ? '000' : String(event.cpu).padStart(3, '0');
  return `${head} [${cpu}] ..... ${ftraceTimestamp(event.ts)}: ${event.name}: ${fields}`;
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
