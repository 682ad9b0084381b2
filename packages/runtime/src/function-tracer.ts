import type { KernelGen } from './task.js';
import type { TraceBus, Tracepoint } from './tracepoint.js';

interface FuncEvent {
  func: string;
}

/**
 * Kernel-function entry and exit events, named as ftrace's function_graph tracer names
 * them (`funcgraph_entry`, `funcgraph_exit`), so that trace viewers can draw a slice per
 * call. Nothing is wrapped or emitted unless someone listens: `wrap` then returns the
 * generator it was given.
 */
export class FunctionTracer {
  readonly #entry: Tracepoint<FuncEvent>;
  readonly #exit: Tracepoint<FuncEvent>;

  constructor(bus: TraceBus) {
    this.#entry = bus.define<FuncEvent>('funcgraph_entry');
    this.#exit = bus.define<FuncEvent>('funcgraph_exit');
  }

  /** True when entry or exit events are listened to. */
  get enabled(): boolean {
    return this.#entry.enabled;
  }

  /** Runs the kernel function `gen` (already called) as the traced call `func`. */
  wrap<R>(func: string, gen: KernelGen<R>): KernelGen<R> {
    return this.#entry.enabled ? this.#traced(func, gen) : gen;
  }

  /** Marks the entry of a plain (non-generator) function; pair it with `exit`. */
  enter(func: string): void {
    if (this.#entry.enabled) this.#entry.emit({ func });
  }

  exit(func: string): void {
    if (this.#exit.enabled) this.#exit.emit({ func });
  }

  *#traced<R>(func: string, gen: KernelGen<R>): KernelGen<R> {
    this.#entry.emit({ func });
    try {
      return yield* gen;
    } finally {
      this.#exit.emit({ func });
    }
  }
}

/** What a traced kernel function's first argument carries: the runtime it runs on. */
export interface TracedContext {
  readonly rt: { readonly functions: FunctionTracer };
}

/**
 * Declares a sleeping kernel function whose every call is a slice (`funcgraph_entry` /
 * `funcgraph_exit` named `name`) when someone listens, whoever calls it: the declaration
 * sits with the definition, as function_graph needs nothing from callers. The first
 * argument carries the runtime (`env`, `ctx`).
 */
export function tracedFunction<C extends TracedContext, A extends unknown[], R>(
  name: string,
  body: (ctx: C, ...args: A) => KernelGen<R>,
): (ctx: C, ...args: A) => KernelGen<R> {
  return (ctx, ...args) => ctx.rt.functions.wrap(name, body(ctx, ...args));
}

/** `tracedFunction` for a kernel function that never sleeps (a plain function). */
export function tracedPlainFunction<C extends TracedContext, A extends unknown[], R>(
  name: string,
  body: (ctx: C, ...args: A) => R,
): (ctx: C, ...args: A) => R {
  return (ctx, ...args) => {
    const functions = ctx.rt.functions;
    if (!functions.enabled) return body(ctx, ...args);
    functions.enter(name);
    try {
      return body(ctx, ...args);
    } finally {
      functions.exit(name);
    }
  };
}
