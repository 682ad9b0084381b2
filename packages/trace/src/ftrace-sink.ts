import type { Runtime, TraceEvent } from '@mmsim/runtime';
import { formatFtraceLine, ftraceHeader } from './ftrace-format.js';
import type { TextWriter, TraceSink } from './sink.js';

export interface FtraceSinkOptions {
  /** Only these tracepoints (default: all, including ones defined later). */
  readonly events?: readonly string[];
  /** Write the `trace` file header first. Default true. */
  readonly header?: boolean;
  /**
   * Include the funcgraph_entry / funcgraph_exit function events. Default false: the file
   * then reads like the kernel's nop tracer with the tracepoints enabled.
   */
  readonly functions?: boolean;
  /**
   * Include the model's own events (named `mmsim_*`, such as a folio's journey through
   * migration), which no kernel emits. Default false.
   */
  readonly model?: boolean;
}

/**
 * Streams a runtime's tracepoints as ftrace text, one line per event, stamped with the
 * emitting CPU's virtual clock: the same seed gives byte-identical text. Existing ftrace
 * tooling (grep, awk, trace-cmd's text mode readers) can read it.
 */
export function attachFtraceSink(
  rt: Runtime,
  write: TextWriter,
  options: FtraceSinkOptions = {},
): TraceSink {
  if (options.header ?? true) write(ftraceHeader(rt.cpus.length));
  const functions = options.functions ?? false;
  const model = options.model ?? false;
  const listener = (event: TraceEvent) => {
    if (!functions && event.name.startsWith('funcgraph_')) return;
    if (!model && event.name.startsWith('mmsim_')) return;
    write(`${formatFtraceLine(event, rt.trace.formatFields(event))}\n`);
  };
  const offs = (options.events ?? ['*']).map((name) => rt.trace.on(name, listener));
  return {
    close() {
      for (const off of offs) off();
    },
  };
}
