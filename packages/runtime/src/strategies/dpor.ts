import { MmsimError } from '../errors.js';
import type { FootprintLog, StepFootprint } from '../footprint.js';
import type { Task } from '../task.js';
import type { Strategy } from './strategy.js';

/**
 * Thrown from `DporStrategy.choose` when the run cannot reach anything new: every task
 * that could run is in the sleep set (its schedules from here were explored), or the only
 * one within the preemption bound is. The run is dropped (it is not an execution of its
 * own); its races are still analysed.
 */
export class ScheduleAbandoned extends Error {
  constructor() {
    super('schedule abandoned: sleep-set blocked');
    this.name = 'ScheduleAbandoned';
  }
}

/** The state before one step of the current execution, as the search keeps it. */
interface Node {
  /** Task ids that could run (just the chosen one where there was no decision). */
  readonly eligible: readonly number[];
  /** Decision number of this step, or -1 when only one task could run. */
  readonly decision: number;
  /** The task that ran the step before (0 at the start). */
  readonly previous: number;
  /** Preemptions spent before this step. */
  readonly spentBefore: number;
  chosen: number;
  /** Tasks still to try here. */
  readonly backtrack: Set<number>;
  /** Tasks tried here, with the footprint of the step each ran (for sleep sets). */
  readonly done: Map<number, StepFootprint>;
  /** Sleep set here: tasks whose step from here is covered by an explored branch. */
  readonly sleep: ReadonlyMap<number, StepFootprint>;
}

/** What the strategy recorded at one decision of its run. */
export interface DecisionRecord {
  readonly step: number;
  readonly eligible: readonly number[];
  readonly previous: number;
  readonly spentBefore: number;
  readonly chosen: number;
  readonly sleep: ReadonlyMap<number, StepFootprint>;
}

export interface DporOptions {
  /** Preemption bound; default Infinity (no bound). */
  readonly preemptionBound?: number;
  /** Use sleep sets (default: only without a bound; see `DporSearch`). */
  readonly sleepSets?: boolean;
}

/**
 * Stateless dynamic partial-order reduction with sleep sets: source-DPOR (Abdulla,
 * Aronis, Jonsson, Sagonas, "Optimal dynamic partial order reduction", POPL 2014, the
 * source-set algorithm), combined with a preemption bound the way BPOR does it (Coons,
 * Musuvathi, McKinley, "Bounded partial-order reduction", OOPSLA 2013).
 *
 * Each run re-executes the program from the start: it follows the decisions of a prefix,
 * takes a new choice at the branch point, then runs on with the default choice (the task
 * that ran last, else the lowest id) skipping tasks in the sleep set. After a run, every
 * race (two dependent steps of different tasks with no step ordered between them; see
 * `FootprintLog` for what makes steps dependent) adds a backtrack point: one initial task
 * of the reversed race to the state before the first step, and the same task to the last
 * context switch before it (BPOR's conservative point: choosing there costs no more
 * preemptions than the switch it replaces). A choice that would exceed the bound is not
 * explored. When no backtrack point is left, every schedule within the bound has been
 * covered up to the dependence relation.
 *
 * Sleep sets (unbounded search only): a task explored at a state sleeps in the sibling
 * branches explored later, until a step dependent with its step runs. A run in which
 * every task that can run sleeps is abandoned (`ScheduleAbandoned`). With a finite bound
 * they are off: the schedule a sleep set relies on to cover a pruned one may need more
 * preemptions than the pruned one, and so lie outside the bound.
 */
export class DporSearch {
  readonly bound: number;
  readonly sleepSets: boolean;
  readonly #stack: Node[] = [];
  /** Decisions of the next run, or null when the search is exhausted. */
  #prefix: number[] | null = [];
  /** Step index of the branch point of the next run (-1: the first run). */
  #branch = -1;
  /** Runs started. */
  executions = 0;
  /** Runs that ended on their own (not abandoned): one per interleaving class explored. */
  classes = 0;
  /** Runs abandoned as sleep-set blocked. */
  abandoned = 0;

  constructor(options: DporOptions = {}) {
    this.bound = options.preemptionBound ?? Number.POSITIVE_INFINITY;
    // Sleep sets prune a branch whose schedules are covered by an earlier sibling, but
    // with a bound the covering schedule may cost more preemptions than the bound allows
    // (a test program shows a lost outcome at bound 1): bounded searches go without.
    this.sleepSets = options.sleepSets ?? this.bound === Number.POSITIVE_INFINITY;
  }

  /** True when every schedule within the bound is covered. */
  get exhausted(): boolean {
    return this.#prefix === null;
  }

  /** The strategy for the next run, recording into `log` (which the run's runtime must get). */
  nextStrategy(log: FootprintLog): DporStrategy | null {
    const prefix = this.#prefix;
    if (prefix === null) return null;
    log.clear();
    let sleep: Map<number, StepFootprint> | null = null;
    if (this.#branch < 0) sleep = new Map();
    else if (this.sleepSets) {
      const node = this.#stack[this.#branch] as Node;
      sleep = new Map(node.sleep);
      for (const [id, fp] of node.done) sleep.set(id, fp);
    } else sleep = new Map();
    this.executions++;
    return new DporStrategy(prefix, sleep, this.sleepSets, this.bound, log);
  }

  /** Takes in the run `strategy` made (ended, crashed or abandoned) and finds the next. */
  finish(strategy: DporStrategy, abandoned: boolean): void {
    const log = strategy.log;
    log.end(); // a run that crashed leaves its last step open
    if (abandoned) this.abandoned++;
    else this.classes++;
    const branch = this.#branch;
    const stack = this.#stack;
    stack.length = Math.max(branch, 0);
    // Rebuild the nodes from the branch point on, from the run's steps and decisions.
    const records = strategy.records;
    let r = 0;
    while (r < records.length && (records[r] as DecisionRecord).step < branch) r++;
    let spent = branch > 0 ? spentAfter(stack[branch - 1] as Node) : 0;
    for (let k = Math.max(branch, 0); k < log.length; k++) {
      const rec = records[r];
      const task = log.tasks[k] as number;
      const previous = k === 0 ? 0 : (log.tasks[k - 1] as number);
      let node: Node;
      if (rec !== undefined && rec.step === k) {
        r++;
        const old = k === branch ? this.#branchNode : null;
        node = {
          eligible: rec.eligible,
          decision: r - 1,
          previous,
          spentBefore: rec.spentBefore,
          chosen: task,
          backtrack: old?.backtrack ?? new Set(),
          done: old?.done ?? new Map(),
          sleep: old?.sleep ?? rec.sleep,
        };
      } else {
        node = {
          eligible: [task],
          decision: -1,
          previous,
          spentBefore: spent,
          chosen: task,
          backtrack: new Set(),
          done: new Map(),
          sleep: EMPTY,
        };
      }
      node.done.set(task, log.footprintOf(k));
      node.backtrack.delete(task);
      stack[k] = node;
      spent = spentAfter(node);
    }
    this.#analyse(log, Math.max(branch, 0), stack);
    this.#pickNext(stack);
  }

  #branchNode: Node | null = null;

  /** Finds the races whose later step is at or after `from`, and adds backtrack points. */
  #analyse(log: FootprintLog, from: number, stack: Node[]): void {
    const n = log.length;
    let tasks = 1;
    for (let k = 0; k < n; k++) tasks = Math.max(tasks, (log.tasks[k] as number) + 1);
    const vc: Int32Array[] = [];
    const lastOfTask = new Int32Array(tasks).fill(-1);
    const lastWrite = new Map<number, number>();
    const readsSince = new Map<number, number[]>();
    let lastGlobal = -1;
    const cands: number[] = [];
    for (let k = 0; k < n; k++) {
      const p = log.tasks[k] as number;
      const prev = lastOfTask[p] as number;
      const v = prev >= 0 ? new Int32Array(vc[prev] as Int32Array) : new Int32Array(tasks);
      cands.length = 0;
      const add = (i: number): void => {
        if (i >= 0 && !cands.includes(i)) cands.push(i);
      };
      const from0 = log.starts[k] as number;
      const to0 = log.starts[k + 1] as number;
      if (log.global[k] === 1) {
        for (let t = 0; t < tasks; t++) if (t !== p) add(lastOfTask[t] as number);
      } else {
        add(lastGlobal);
        for (let a = from0; a < to0; a++) {
          const o = log.objects[a] as number;
          const lw = lastWrite.get(o);
          if (lw !== undefined) add(lw);
          if (log.writes[a] === 1) for (const rd of readsSince.get(o) ?? []) add(rd);
        }
      }
      for (const i of cands) {
        const ci = vc[i] as Int32Array;
        for (let t = 0; t < tasks; t++)
          if ((ci[t] as number) > (v[t] as number)) v[t] = ci[t] as number;
      }
      v[p] = k + 1;
      vc.push(v);
      if (k >= from) {
        for (const i of cands) {
          const q = log.tasks[i] as number;
          if (q === p) continue;
          if (prev >= 0 && ((vc[prev] as Int32Array)[q] as number) >= i + 1) continue;
          let immediate = true;
          for (const j of cands) {
            if (j !== i && ((vc[j] as Int32Array)[q] as number) >= i + 1) {
              immediate = false;
              break;
            }
          }
          if (immediate) this.#race(log, vc, i, k, stack);
        }
      }
      for (let a = from0; a < to0; a++) {
        const o = log.objects[a] as number;
        if (log.writes[a] === 1) {
          lastWrite.set(o, k);
          readsSince.set(o, []);
        } else {
          let list = readsSince.get(o);
          if (list === undefined) {
            list = [];
            readsSince.set(o, list);
          }
          list.push(k);
        }
      }
      if (log.global[k] === 1) lastGlobal = k;
      lastOfTask[p] = k;
    }
  }

  /** Adds the backtrack points of the race between steps `i` and `k`. */
  #race(log: FootprintLog, vc: Int32Array[], i: number, k: number, stack: Node[]): void {
    const qi = log.tasks[i] as number;
    // Initials of v = (steps after i not ordered after i), then step k.
    const first = new Map<number, number>();
    const initials: number[] = [];
    for (let j = i + 1; j <= k; j++) {
      const cj = vc[j] as Int32Array;
      if (j < k && (cj[qi] as number) >= i + 1) continue;
      const t = log.tasks[j] as number;
      if (first.has(t)) continue;
      let initial = true;
      for (const [r, at] of first) {
        if ((cj[r] as number) >= at + 1) {
          initial = false;
          break;
        }
      }
      first.set(t, j);
      if (initial) initials.push(t);
    }
    const p = log.tasks[k] as number;
    const node = stack[i] as Node;
    const covered = initials.some((t) => node.backtrack.has(t) || node.done.has(t));
    if (covered) return;
    const q = initials.includes(p) ? p : (initials[0] as number);
    addBacktrack(node, q);
    // BPOR: also at the last context switch before step i.
    let j = i;
    while (j > 0 && log.tasks[j - 1] === log.tasks[j]) j--;
    if (j !== i) {
      const at = stack[j] as Node;
      if (!at.backtrack.has(q) && !at.done.has(q)) addBacktrack(at, q);
    }
  }

  #pickNext(stack: Node[]): void {
    for (let k = stack.length - 1; k >= 0; k--) {
      const node = stack[k] as Node;
      if (node.decision < 0) continue;
      for (const q of [...node.backtrack].sort((a, b) => a - b)) {
        node.backtrack.delete(q);
        if (node.done.has(q)) continue;
        if (this.sleepSets && node.sleep.has(q)) continue;
        const cost = q !== node.previous && node.eligible.includes(node.previous) ? 1 : 0;
        if (node.spentBefore + cost > this.bound) continue;
        // Decisions before this one, then q.
        const prefix: number[] = [];
        for (let s = 0; s < k; s++) {
          const at = stack[s] as Node;
          if (at.decision >= 0) prefix.push(at.chosen);
        }
        prefix.push(q);
        node.chosen = q;
        this.#prefix = prefix;
        this.#branch = k;
        this.#branchNode = node;
        return;
      }
    }
    this.#prefix = null;
  }
}

const EMPTY: ReadonlyMap<number, StepFootprint> = new Map();

function spentAfter(node: Node): number {
  const preempted = node.chosen !== node.previous && node.eligible.includes(node.previous);
  return node.spentBefore + (preempted ? 1 : 0);
}

/** Adds `q` to the node's backtrack set, or every task that could run there when q could not. */
function addBacktrack(node: Node, q: number): void {
  if (node.eligible.includes(q)) node.backtrack.add(q);
  else for (const t of node.eligible) if (!node.done.has(t)) node.backtrack.add(t);
}

/**
 * The strategy of one DPOR run: the decisions of a prefix, then the default choice (the
 * task that ran last, else the lowest id) among the tasks not in the sleep set, within the
 * preemption bound.
 */
export class DporStrategy implements Strategy {
  readonly name = 'dpor';
  readonly log: FootprintLog;
  readonly records: DecisionRecord[] = [];
  readonly #prefix: readonly number[];
  readonly #sleep: Map<number, StepFootprint>;
  readonly #useSleep: boolean;
  readonly #bound: number;
  /** Steps of the log already applied to the sleep set. */
  #seen = 0;
  #spent = 0;

  constructor(
    prefix: readonly number[],
    sleep: Map<number, StepFootprint>,
    useSleep: boolean,
    bound: number,
    log: FootprintLog,
  ) {
    this.#prefix = prefix;
    this.#sleep = sleep;
    this.#useSleep = useSleep;
    this.#bound = bound;
    this.log = log;
  }

  choose(eligible: readonly Task[], decision: number): Task {
    const log = this.log;
    const step = log.length;
    const previous = step === 0 ? 0 : (log.tasks[step - 1] as number);
    const branchAt = this.#prefix.length - 1;
    const inPrefix = decision < this.#prefix.length;
    if (decision >= branchAt) this.#updateSleep(decision > branchAt);
    const canContinue = eligible.some((t) => t.id === previous);
    let chosen: Task | undefined;
    if (inPrefix) {
      const id = this.#prefix[decision] as number;
      chosen = eligible.find((t) => t.id === id);
      if (chosen === undefined) {
        throw new MmsimError(
          'REPLAY_DIVERGED',
          `dpor: at decision ${decision + 1} task ${id} could not run, but it could in an ` +
            'earlier run; the program under test is not deterministic',
        );
      }
    } else {
      const sleep = this.#sleep;
      const free = canContinue ? eligible.find((t) => t.id === previous) : undefined;
      if (free !== undefined && !sleep.has(free.id)) chosen = free;
      else if (!canContinue || this.#spent < this.#bound) {
        chosen = eligible.find((t) => !sleep.has(t.id));
      }
      if (chosen === undefined) throw new ScheduleAbandoned();
    }
    const sleepNow = decision >= branchAt ? new Map(this.#sleep) : EMPTY;
    this.records.push({
      step,
      eligible: eligible.map((t) => t.id),
      previous,
      spentBefore: this.#spent,
      chosen: chosen.id,
      sleep: sleepNow,
    });
    if (canContinue && chosen.id !== previous) this.#spent++;
    if (decision === branchAt) {
      // The branch: what was explored here sleeps, except the task now chosen.
      this.#sleep.delete(chosen.id);
      this.#seen = step;
    }
    return chosen;
  }

  /** Wakes the sleeping tasks whose step depends on a step run since the last call. */
  #updateSleep(apply: boolean): void {
    const log = this.log;
    if (!apply || !this.#useSleep) {
      if (!this.#useSleep) this.#sleep.clear();
      return;
    }
    for (let j = this.#seen; j < log.length; j++) {
      for (const [id, fp] of this.#sleep) if (log.dependsOn(j, fp)) this.#sleep.delete(id);
    }
    this.#seen = log.length;
  }
}

export interface DporExploreOptions extends DporOptions {
  /** Stop after this many runs. Default 100 000. */
  readonly maxSchedules?: number;
}

export interface DporExploreResult {
  /** Runs, abandoned ones included. */
  readonly executions: number;
  /** Runs that ended on their own: the interleaving classes explored. */
  readonly classes: number;
  /** True when the search was exhausted (the run limit was not hit). */
  readonly complete: boolean;
}

/**
 * Runs a program under DPOR until the search is exhausted (see `DporSearch`). `runOnce`
 * must build a fresh runtime with the strategy and footprint log it is given
 * (`new Runtime({ strategy, footprints, declaredFootprints: true, ... })` when the program
 * declares its shared accesses), run it and check what it wants; `ScheduleAbandoned`
 * thrown by `run()` must be let through.
 */
export function exploreWithDpor(
  runOnce: (strategy: Strategy, footprints: FootprintLog) => void,
  log: FootprintLog,
  options: DporExploreOptions = {},
): DporExploreResult {
  const max = options.maxSchedules ?? 100_000;
  const search = new DporSearch(options);
  for (;;) {
    if (search.exhausted) break;
    if (search.executions >= max) break;
    const strategy = search.nextStrategy(log) as DporStrategy;
    let abandoned = false;
    try {
      runOnce(strategy, log);
    } catch (error) {
      if (!(error instanceof ScheduleAbandoned)) throw error;
      abandoned = true;
    }
    search.finish(strategy, abandoned);
  }
  return {
    executions: search.executions,
    classes: search.classes,
    complete: search.exhausted,
  };
}
