import { MmsimError } from './errors.js';
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
  checkArity(name, body);
  // Fixed parameters, not `...args`: no arguments array is built per call (these
  // functions run once or twice per migrated folio). Missing ones arrive as undefined.
  const f = body as unknown as FixedArity<C, KernelGen<R>>;
  const traced: FixedArity<C, KernelGen<R>> = (ctx, a, b, c, d, e, g, h, i, j) =>
    ctx.rt.functions.wrap(name, f(ctx, a, b, c, d, e, g, h, i, j));
  return traced as unknown as (ctx: C, ...args: A) => KernelGen<R>;
}

/** The most parameters (after the context) a traced function may declare. */
const MAX_TRACED_ARGS = 9;

type FixedArity<C, R> = (
  ctx: C,
  a?: unknown,
  b?: unknown,
  c?: unknown,
  d?: unknown,
  e?: unknown,
  g?: unknown,
  h?: unknown,
  i?: unknown,
  j?: unknown,
) => R;

function checkArity(name: string, body: (...args: never[]) => unknown): void {
  if (body.length > MAX_TRACED_ARGS + 1) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `traced function ${name} declares ${body.length} parameters; at most ${MAX_TRACED_ARGS + 1} are passed`,
    );
  }
}

/** `tracedFunction` for a kernel function that never sleeps (a plain function). */
export function tracedPlainFunction<C extends TracedContext, A extends unknown[], R>(
  name: string,
  body: (ctx: C, ...args: A) => R,
): (ctx: C, ...args: A) => R {
  checkArity(name, body);
  const f = body as unknown as FixedArity<C, R>;
  const traced: FixedArity<C, R> = (ctx, a, b, c, d, e, g, h, i, j) => {
    const functions = ctx.rt.functions;
    if (!functions.enabled) return f(ctx, a, b, c, d, e, g, h, i, j);
    functions.enter(name);
    try {
      return f(ctx, a, b, c, d, e, g, h, i, j);
    } finally {
      functions.exit(name);
    }
  };
  return traced as unknown as (ctx: C, ...args: A) => R;
}
