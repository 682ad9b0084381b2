import { MmsimError } from './errors.js';
import type { Task } from './task.js';

/** One emitted tracepoint, stamped with the emitting CPU's virtual clock. */
export interface TraceEvent<F extends object = Record<string, unknown>> {
  readonly name: string;
  /** Virtual time in nanoseconds. */
  readonly ts: number;
  /** CPU of the emitting task, or -1 outside any task. */
  readonly cpu: number;
  /** Task id of the emitter, or 0 outside any task (ftrace's `<idle>-0`). */
  readonly pid: number;
  readonly comm: string;
  readonly fields: F;
}

export type TraceListener = (event: TraceEvent) => void;

/**
 * A tracepoint as its emitting package declares it, the way TRACE_EVENT() declares one
 * in include/trace/events/*.h: the kernel's name and its TP_printk, so that a sink can
 * print any event without knowing the package that emits it.
 */
export interface TraceEventDefinition<F extends object = Record<string, unknown>> {
  readonly name: string;
  /**
   * The event's TP_printk: the text after `name: ` on an ftrace line. Without one the
   * fields print as `name=value` pairs in emission order.
   */
  readonly printk?: (fields: F) => string;
  /** How a timeline (Perfetto) draws the event besides an instant; see `TimelineRole`. */
  readonly timeline?: TimelineRole<F>;
}

/**
 * What an event means on a timeline, declared by its emitter so that a trace viewer's sink
 * needs to know no package: it opens or closes a slice named `slice` on the emitting
 * task's track, or it is one end (or a step) of a flow arrow named `flow`, paired with the
 * other end by `key` (first in, first out).
 */
export type TimelineRole<F extends object = Record<string, unknown>> =
  | { readonly slice: string; readonly phase: 'begin' | 'end' }
  | {
      readonly flow: string;
      readonly category: string;
      /** `step`: a point of an open flow (the flow goes on; its `key` finds it). */
      readonly phase: 'start' | 'step' | 'end';
      readonly key: (fields: F) => number | string;
    };

/**
 * Declares a tracepoint with its TP_printk (and, optionally, its role on a timeline); pass
 * the result to `TraceBus.define`.
 */
export function traceEvent<F extends object>(
  name: string,
  printk?: (fields: F) => string,
  timeline?: TimelineRole<F>,
): TraceEventDefinition<F> {
  return {
    name,
    ...(printk === undefined ? {} : { printk }),
    ...(timeline === undefined ? {} : { timeline }),
  };
}

/** Any tracepoint definition, whatever its fields (the map `tracepointSet` takes). */
export type TraceEventDefinitions = Readonly<Record<string, TraceEventDefinition<never>>>;

/** The fields a definition declares. */
export type TraceEventFields<D> = D extends TraceEventDefinition<infer F> ? F : never;

/** The tracepoints of a map of definitions on one bus, one property a definition. */
export type TracepointSet<D extends TraceEventDefinitions> = {
  readonly [K in keyof D]: Tracepoint<TraceEventFields<D[K]>>;
};

/** What `tracepointSet` returns: a class whose instances are a package's tracepoints. */
export interface TracepointSetClass<D extends TraceEventDefinitions> {
  /** Defines every tracepoint of the map on `owner.trace` (a `Runtime` or anything with a bus). */
  new (owner: { readonly trace: TraceBus }): TracepointSet<D>;
  /** The set of `owner.trace`: defined on first use, the same object afterwards. */
  of(owner: { readonly trace: TraceBus }): TracepointSet<D>;
}

/**
 * The tracepoints one package emits, declared once as a map from the property its code
 * reads to the definition (`traceEvent`): `class CmaTracepoints extends tracepointSet({
 * release: CMA_RELEASE, ... }) {}`. An instance defines each on the runtime's bus by kernel
 * name, as the package's `TRACE_EVENT`s register theirs; `CmaTracepoints.of(rt)` keeps one
 * instance a bus for packages that hold no state of their own to keep it in. Every instance
 * gets its properties in the map's order: one object shape, read as cheaply as class fields.
 */
export function tracepointSet<const D extends TraceEventDefinitions>(
  definitions: D,
): TracepointSetClass<D> {
  const names = Object.keys(definitions);
  const defs = names.map((name) => definitions[name] as TraceEventDefinition<object>);
  // The name slots of the definitions, looked up (and the names checked) on the first
  // instance, then reused: an explorer builds a set a machine, a machine a schedule.
  let slots: number[] | null = null;
  const fill = setFiller(names);
  class Tracepoints {
    constructor(owner: { readonly trace: TraceBus }) {
      if (slots === null) slots = defs.map((def) => nameSlot(def.name));
      fill(this, owner.trace, slots, defs);
    }

    static of(owner: { readonly trace: TraceBus }): TracepointSet<D> {
      const sets = owner.trace.tracepointSets;
      let set = sets.get(Tracepoints) as TracepointSet<D> | undefined;
      if (set === undefined) {
        set = new Tracepoints(owner) as unknown as TracepointSet<D>;
        sets.set(Tracepoints, set);
      }
      return set;
    }
  }
  return Tracepoints as unknown as TracepointSetClass<D>;
}

/** What `setFiller` makes: stores each definition's tracepoint on `self`, in the map's order. */
type SetFiller = (
  self: object,
  bus: TraceBus,
  slots: readonly number[],
  defs: readonly TraceEventDefinition<object>[],
) => void;

/**
 * The function that gives a new `tracepointSet` instance its properties: one store a
 * property, each named in the code (`self["start"] = bus.defineAt(slots[0], defs[0])`).
 * A loop of computed stores (`self[names[i]] = ...`) is one keyed store site shared by
 * every set class and every property: it goes megamorphic, and in an explorer, which
 * builds every set once a schedule, it took some 5 % of a schedule of rfc-lock-order in a
 * warm profile (property-adding stores served by a stub cache the model's own megamorphic
 * sites keep overwriting, presumably).
 * A function compiled for the set has a store site a property, each monomorphic. The
 * source holds only the map's keys, each quoted by `JSON.stringify`, and indices.
 */
function setFiller(names: readonly string[]): SetFiller {
  const body = names
    .map((name, i) => `self[${JSON.stringify(name)}] = bus.defineAt(slots[${i}], defs[${i}]);`)
    .join('\n');
  return new Function('self', 'bus', 'slots', 'defs', body) as SetFiller;
}

/** Fields as `name=value` pairs in emission order: the print of an event without TP_printk. */
export function formatFieldsGeneric(fields: object): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

/** Where the bus learns who is emitting and when: the runtime. */
export interface TraceContext {
  readonly currentTask: Task | null;
}

/**
 * The listeners of every tracepoint nobody has subscribed to (frozen: a subscription gives
 * the tracepoint an array of its own). Most tracepoints of an explored machine never get
 * one, and an explorer builds a machine a schedule.
 */
const NO_LISTENERS = Object.freeze([]) as unknown as TraceListener[];

/**
 * A named tracepoint. Callers test `enabled` before building the fields, so a tracepoint
 * nobody listens to costs one property read, as a static key does in the kernel:
 *   `if (tp.enabled) tp.emit({ mode, reason });`
 */
export class Tracepoint<F extends object = Record<string, unknown>> {
  readonly name: string;
  enabled = false;
  /** The TP_printk its emitter declared, or null (fields print as `name=value`). */
  printk: ((fields: F) => string) | null = null;
  /** Its role on a timeline, as its emitter declared it, or null (an instant). */
  timeline: TimelineRole<F> | null = null;
  /** @internal The listeners; the shared empty `NO_LISTENERS` until the first one. */
  listeners: TraceListener[] = NO_LISTENERS;
  readonly #context: TraceContext;

  constructor(name: string, context: TraceContext) {
    this.name = name;
    this.#context = context;
  }

  emit(fields: F): void {
    const task = this.#context.currentTask;
    const event: TraceEvent<F> = {
      name: this.name,
      ts: task === null ? 0 : task.cpu.clock,
      cpu: task === null ? -1 : task.cpu.id,
      pid: task === null ? 0 : task.id,
      comm: task === null ? '<idle>' : task.name,
      fields,
    };
    for (const listener of this.listeners) listener(event as TraceEvent);
  }

  /**
   * Emits as `task` on `cpu` at the CPU's clock, whoever is current: what the scheduler
   * emits while switching (the line belongs to the task being switched out, or to the
   * idle task `<idle>-0` when `task` is null).
   */
  emitOn(cpu: { readonly id: number; readonly clock: number }, task: Task | null, fields: F): void {
    const event: TraceEvent<F> = {
      name: this.name,
      ts: cpu.clock,
      cpu: cpu.id,
      pid: task === null ? 0 : task.id,
      comm: task === null ? '<idle>' : task.name,
      fields,
    };
    for (const listener of this.listeners) listener(event as TraceEvent);
  }
}

/**
 * A slot for every tracepoint name a bus has defined in this process, given in order of
 * first definition once the name is found snake_case: a bus keeps its tracepoints in an
 * array by slot. Every machine defines the same few names, and an explorer builds a machine
 * a schedule: a map of its own per bus (filled, and grown, for every machine) cost more
 * than the tracepoints themselves.
 */
const NAME_SLOTS = new Map<string, number>();

/** The slot of a tracepoint name, given on first use; throws for a name not snake_case. */
function nameSlot(name: string): number {
  let slot = NAME_SLOTS.get(name);
  if (slot === undefined) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `tracepoint name ${JSON.stringify(name)} must be snake_case`,
      );
    }
    slot = NAME_SLOTS.size;
    NAME_SLOTS.set(name, slot);
  }
  return slot;
}

/**
 * The tracepoint bus of one runtime. Packages define their tracepoints once (by kernel
 * name); sinks subscribe by name or to everything with `'*'`.
 */
export class TraceBus {
  readonly #context: TraceContext;
  /** The tracepoints defined on this bus, by name slot (`nameSlot`); holes for the others. */
  readonly #points: Array<Tracepoint<object> | undefined> = [];
  readonly #wildcard: TraceListener[] = [];
  /**
   * The `tracepointSet` instances of this bus, by set class (see `tracepointSet(...).of`).
   * Kept on the bus rather than in a WeakMap keyed by it: a WeakMap entry keeps its key and
   * value through young-generation collections, so every explored machine would outlive
   * its schedule until a full collection.
   * @internal
   */
  readonly tracepointSets = new Map<object, object>();

  constructor(context: TraceContext) {
    this.#context = context;
  }

  /**
   * Returns the tracepoint of that name, creating it on first use. A definition with a
   * TP_printk gives the tracepoint its format (a sink may have subscribed by name first).
   */
  define<F extends object>(nameOrDefinition: string | TraceEventDefinition<F>): Tracepoint<F> {
    const name = typeof nameOrDefinition === 'string' ? nameOrDefinition : nameOrDefinition.name;
    return this.defineAt(nameSlot(name), nameOrDefinition);
  }

  /**
   * `define` of a name whose slot (`nameSlot`) the caller looked up already (a
   * `tracepointSet` class, once for all its instances).
   * @internal
   */
  defineAt<F extends object>(
    slot: number,
    nameOrDefinition: string | TraceEventDefinition<F>,
  ): Tracepoint<F> {
    let tp = this.#points[slot];
    if (tp === undefined) {
      const name = typeof nameOrDefinition === 'string' ? nameOrDefinition : nameOrDefinition.name;
      tp = new Tracepoint<object>(name, this.#context);
      if (this.#wildcard.length > 0) {
        tp.listeners = [...this.#wildcard];
        tp.enabled = true;
      }
      this.#points[slot] = tp;
    }
    if (typeof nameOrDefinition !== 'string') {
      const { printk, timeline } = nameOrDefinition;
      if (printk !== undefined) (tp as Tracepoint<F>).printk = printk;
      if (timeline !== undefined) (tp as Tracepoint<F>).timeline = timeline;
    }
    return tp as unknown as Tracepoint<F>;
  }

  /** The text after `name: ` on an ftrace line for `event`: its TP_printk, else `name=value` pairs. */
  formatFields(event: TraceEvent): string {
    const printk = this.#point(event.name)?.printk ?? null;
    return printk === null ? formatFieldsGeneric(event.fields) : printk(event.fields);
  }

  /** The timeline role the emitter of `name` declared, or null. */
  timelineOf(name: string): TimelineRole | null {
    return (this.#point(name)?.timeline ?? null) as TimelineRole | null;
  }

  /** Subscribes to one tracepoint, or to all (present and future) with `'*'`. */
  on(name: string, listener: TraceListener): () => void {
    const targets = name === '*' ? this.#defined() : [this.define(name)];
    if (name === '*') this.#wildcard.push(listener);
    for (const tp of targets) {
      if (tp.listeners === NO_LISTENERS) tp.listeners = [listener];
      else tp.listeners.push(listener);
      tp.enabled = true;
    }
    return () => {
      if (name === '*') removeOne(this.#wildcard, listener);
      for (const tp of name === '*' ? this.#defined() : targets) {
        removeOne(tp.listeners, listener);
        tp.enabled = tp.listeners.length > 0;
      }
    };
  }

  /** Names of every defined tracepoint, sorted. */
  names(): string[] {
    return this.#defined()
      .map((tp) => tp.name)
      .sort();
  }

  /** The tracepoint of that name if this bus defined it. */
  #point(name: string): Tracepoint<object> | undefined {
    const slot = NAME_SLOTS.get(name);
    return slot === undefined ? undefined : this.#points[slot];
  }

  /** Every tracepoint this bus defined, in slot order. */
  #defined(): Tracepoint<object>[] {
    const out: Tracepoint<object>[] = [];
    for (const tp of this.#points) if (tp !== undefined) out.push(tp);
    return out;
  }
}

function removeOne<T>(items: T[], item: T): void {
  const i = items.indexOf(item);
  if (i >= 0) items.splice(i, 1);
}
