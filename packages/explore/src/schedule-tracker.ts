import type { DecisionAlternatives, Runtime, Task } from '@mmsim/runtime';
import type { ScheduleShape } from './finding.js';

/** Default flags a word of `ScheduleTracker`'s bits. */
const DEFAULT_BITS = 30;

/** The first size of a tracker's choice buffer (choices, 4 bytes each). */
const FIRST_BUFFER = 256;

/** A finished tracker's buffer (none yet): its choices are in its list. */
const NO_BUFFER = new Int32Array(0);

/**
 * The buffer the last finished tracker gave back, for the next tracker to fill: the
 * explorer runs one schedule after another, so one buffer serves them all, and a tracker
 * that finds none (two at once) makes its own.
 */
let spareBuffer: Int32Array | null = null;

/**
 * What the explorer learns about one run's schedule as it goes: every decision (the
 * choice, and whether it was the default), and the shape. Its strategy calls `decide`;
 * its `onStep` hook calls `stepped`.
 *
 * The default choice at a decision keeps the task that ran the previous step running if
 * it can, else takes the lowest id: choosing anything else while the previous task could
 * go on is a preemption (the unit CHESS bounds).
 */
export class ScheduleTracker {
  /**
   * The task ids chosen so far, in `#buffer[0 .. #decisions)`: a push a decision into a
   * plain array reallocated it as it grew (some 3 times the final list in bytes, and the
   * copies: most of what a pmbench-migrate schedule's decisions allocated). Once the run
   * is over (`finish`), the list is `#list` and the buffer goes to the next tracker.
   */
  #buffer: Int32Array;
  #decisions = 0;
  /** The choices as a list, made when read (`choices`); null when a decision came since. */
  #list: number[] | null = null;
  /**
   * Whether each choice was the default one, as bits: bit `i % 30` of word `i / 30` for
   * decision `i` (30 bits keep a word a small integer). A flag pushed at every decision of
   * every schedule cost more than the rest of the bookkeeping; the list is read only to
   * shrink a finding (`defaults`).
   */
  readonly #defaultBits: number[] = [];
  /** Decisions up to the last one whose choice was not the default (the shape's). */
  #explicitDecisions = 0;
  /**
   * Per decision, when `keepAlternatives`: what bounded DFS needs to backtrack (the default
   * first, then the others by id; any other choice costs a preemption when the previous
   * task could have gone on).
   */
  readonly alternatives: DecisionAlternatives[] | null;
  /** The task that ran the last step. */
  previous: Task | null = null;
  /** Chosen at a decision and not yet stepped. */
  pending: Task | null = null;
  /** Whether the pending choice was a preemption. */
  pendingPreempts = false;
  steps = 0;
  preemptions = 0;
  switches = 0;

  constructor(keepAlternatives = false) {
    this.alternatives = keepAlternatives ? [] : null;
    const spare = spareBuffer;
    spareBuffer = null;
    this.#buffer = spare ?? new Int32Array(FIRST_BUFFER);
  }

  /**
   * Task id chosen at each decision, in order: a list of its own, the same each time it
   * is read until the next decision (a decision after a read makes a new list).
   */
  get choices(): readonly number[] {
    return this.#list ?? this.#makeList();
  }

  /** `choices` from the buffer; sized first, then filled (cheaper than a push at a time). */
  #makeList(): number[] {
    const n = this.#decisions;
    const buffer = this.#buffer;
    const list = new Array<number>(n);
    for (let i = 0; i < n; i++) list[i] = buffer[i] as number;
    this.#list = list;
    return list;
  }

  /**
   * The run is over: the choices become a list of their own and the buffer goes to the
   * next tracker. A decision after this still counts (the tracker takes a buffer again).
   */
  finish(): void {
    const buffer = this.#buffer;
    if (buffer === NO_BUFFER) return;
    if (this.#list === null) this.#makeList(); // made now: the buffer is given away
    this.#buffer = NO_BUFFER;
    if (spareBuffer === null || spareBuffer.length < buffer.length) spareBuffer = buffer;
  }

  /** A buffer with room for one more choice, holding the choices so far. */
  #grow(): Int32Array {
    const n = this.#decisions;
    const spare = spareBuffer;
    let buffer: Int32Array;
    if (spare !== null && spare.length > n) {
      spareBuffer = null;
      buffer = spare;
    } else {
      buffer = new Int32Array(Math.max(FIRST_BUFFER, 2 * n));
    }
    // A finished tracker's choices are in its list; otherwise in the old buffer.
    const old = this.#buffer;
    if (old === NO_BUFFER) {
      const list = this.#list as number[];
      for (let i = 0; i < n; i++) buffer[i] = list[i] as number;
    } else if (n > 0) {
      buffer.set(old.subarray(0, n));
    }
    this.#buffer = buffer;
    return buffer;
  }

  /** The default choice among `eligible` (sorted by id). */
  defaultChoice(eligible: readonly Task[]): Task {
    const prev = this.previous;
    // A loop, not `includes` (a builtin call at every decision): the list holds a few tasks.
    if (prev !== null) {
      for (let i = 0; i < eligible.length; i++) if (eligible[i] === prev) return prev;
    }
    return eligible[0] as Task;
  }

  /** Records the choice made at a decision. */
  decide(eligible: readonly Task[], chosen: Task): void {
    const fallback = this.defaultChoice(eligible);
    const byDefault = chosen === fallback;
    const canContinue = fallback === this.previous;
    const preempts = !byDefault && canContinue;
    if (this.alternatives !== null) {
      const order = [fallback.id];
      for (const t of eligible) if (t !== fallback) order.push(t.id);
      this.alternatives.push({
        order,
        spentBefore: this.preemptions,
        cost: canContinue ? 1 : 0,
      });
    }
    if (preempts) this.preemptions++;
    const i = this.#decisions;
    let buffer = this.#buffer;
    if (i >= buffer.length) buffer = this.#grow();
    buffer[i] = chosen.id;
    this.#decisions = i + 1;
    this.#list = null;
    const bit = i % DEFAULT_BITS;
    if (bit === 0) this.#defaultBits.push(0);
    if (byDefault) this.#defaultBits[(i - bit) / DEFAULT_BITS]! |= 1 << bit;
    else this.#explicitDecisions = i + 1;
    this.pending = chosen;
    this.pendingPreempts = preempts;
  }

  /** Whether each choice was the default one, a flag a decision. */
  get defaults(): boolean[] {
    const bits = this.#defaultBits;
    const out: boolean[] = [];
    for (let i = 0; i < this.#decisions; i++) {
      const bit = i % DEFAULT_BITS;
      out.push(((bits[(i - bit) / DEFAULT_BITS]! >> bit) & 1) === 1);
    }
    return out;
  }

  /** Records that `task` ran a step. */
  stepped(task: Task): void {
    if (this.previous !== null && this.previous !== task) this.switches++;
    this.previous = task;
    this.steps++;
    this.pending = null;
    this.pendingPreempts = false;
  }

  /**
   * The task whose step threw. The runtime does not say (onStep is not called for that
   * step): it is the task chosen at a pending decision, or else the only task that could
   * run; otherwise null.
   */
  crashedTask(rt: Runtime): Task | null {
    if (this.pending !== null) return this.pending;
    const candidates = rt.tasks.filter(
      (t) => t.state === 'runnable' && (t.cpu.atomicTask === null || t.cpu.atomicTask === t),
    );
    return candidates.length === 1 ? (candidates[0] as Task) : null;
  }

  /** Records the step that threw; it counts, as the runtime counted it. */
  crashed(task: Task | null): void {
    if (task !== null) this.stepped(task);
    else this.steps++;
  }

  get shape(): ScheduleShape {
    return {
      steps: this.steps,
      decisions: this.#decisions,
      explicitDecisions: this.#explicitDecisions,
      preemptions: this.preemptions,
      switches: this.switches,
    };
  }
}
