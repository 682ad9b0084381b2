import type { DecisionAlternatives, Runtime, Task } from '@mmsim/runtime';
import type { ScheduleShape } from './finding.js';

/** Default flags a word of `ScheduleTracker`'s bits. */
const DEFAULT_BITS = 30;

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
  /** Task id chosen at each decision. */
  readonly choices: number[] = [];
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
    const i = this.choices.length;
    this.choices.push(chosen.id);
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
    for (let i = 0; i < this.choices.length; i++) {
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
      decisions: this.choices.length,
      explicitDecisions: this.#explicitDecisions,
      preemptions: this.preemptions,
      switches: this.switches,
    };
  }
}
