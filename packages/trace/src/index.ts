/**
 * @mmsim/trace: sinks that turn a run into files people already have tools for.
 */
export * from './chrome-trace-sink.js';
export * from './ftrace-format.js';
export * from './ftrace-sink.js';
export type { TextWriter, TraceSink } from './sink.js';
export * from './vmstat-text.js';
