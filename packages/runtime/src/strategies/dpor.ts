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
  /** Task ids that could run; null where there was no decision (only `chosen` could). */
  readonly eligible: readonly number[] | null;
  /** Decision number of this step, or -1 when only one task could run. */
  readonly decision: number;
  /** The task that ran the step before (0 at the start). */
  readonly previous: number;
  /** Preemptions spent before this step. */
  readonly spentBefore: number;
  chosen: number;
  /** Tasks still to try here (a shared empty set where there was no decision). */
  readonly backtrack: Set<number>;
  /**
   * Tasks tried here, with what a sleep set of a later sibling needs of the step each ran
   * (null where no later sibling may sleep it); a shared empty map where there was no
   * decision.
   */
  readonly done: Map<number, DoneStep | null>;
  /** Sleep set here: tasks whose step from here is covered by an explored branch. */
  readonly sleep: ReadonlyMap<number, StepFootprint>;
}

/** A task tried at a node, as later siblings' sleep sets see it (see `DporSearch`). */
interface DoneStep {
  readonly footprint: StepFootprint;
  /**
   * True when the task sleeps in every later sibling; false when it sleeps in those of all
   * tasks but the one that ran the step before the node (the continuing task).
   */
  readonly always: boolean;
}

/** What the strategy recorded at one decision of its run. */
export interface DecisionRecord {
  readonly step: number;
  /** The decision's number in its run (0 for the first). */
  readonly decision: number;
  readonly eligible: readonly number[];
  readonly previous: number;
  readonly spentBefore: number;
  readonly chosen: number;
  readonly sleep: ReadonlyMap<number, StepFootprint>;
}

export interface DporOptions {
  /** Preemption bound; default Infinity (no bound). */
  readonly preemptionBound?: number;
  /**
   * Use sleep sets (default true). Without a bound every explored sibling sleeps; with a
   * bound those whose reordering costs no preemption more (see `DporSearch`).
   */
  readonly sleepSets?: boolean;
  /**
   * Under a bound, also let a sibling that blocked or ended after its step sleep in the
   * branches of later siblings other than the continuing task (the second case of
   * `DporSearch`'s sleep rule). Default true. With it, loop-writeback-deadlock v6.3 at bound
   * 2 needs 63,610 executions instead of 148,188, for the same 61,658 interleaving classes.
   * The classes it once lost (18 there) came from a compaction footprint that changed when
   * an independent step ran first, not from the rule; false gives the search without it.
   */
  readonly sleepBlockedSiblings?: boolean;
  /**
   * Split the search: run only the subtrees of shard `index` of `count` (see `DporSearch`).
   * Default: the whole search.
   */
  readonly shard?: { readonly index: number; readonly count: number };
  /**
   * Decisions at the top of the tree explored in full (every task that could run, within
   * the bound), whatever the races say: the subtrees below them are the units a sharded
   * search splits. Default `DPOR_SPLIT_DECISIONS`; the same for every shard of a search.
   */
  readonly splitDecisions?: number;
}

/** The decisions a DPOR search explores in full at the top of its tree, by default. */
export const DPOR_SPLIT_DECISIONS = 2;

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
 * Sleep sets: a task explored at a state sleeps in the sibling branches explored later,
 * until a step dependent with its step runs; a run in which every task that can run sleeps
 * is abandoned (`ScheduleAbandoned`), also where the only task that can run sleeps (no
 * decision there: the run is cut at that step when it is over, and counted as abandoned).
 * Without a bound every explored sibling sleeps. With a bound a sibling p sleeps in the
 * branch of a later sibling q only where that cannot lose a schedule within the bound: a
 * schedule s = q w p x that the sleeping p prunes (p's step independent of q w) is
 * equivalent to t = p q w x, explored under p, and t must cost no more preemptions than s.
 * Let c be the task that ran the step before the state. Compared with s, t pays for p at
 * the state ([c can run and p != c]) and for leaving p after its step ([p can run then]),
 * and saves what s pays for q at the state ([c can run and q != c]) and for the switch into
 * p after w (at least what t pays for the switch after w). So t costs no more than s when:
 * - p = c (it continued without a preemption): t pays nothing at the state and at most one
 *   for leaving p, s pays one for q; p sleeps in every later sibling;
 * - p cannot run right after its step (it blocked or ended: leaving it is free) and q != c
 *   (so s pays for q at the state whatever t pays for p): p sleeps in the branches of every
 *   later sibling but c's (`sleepBlockedSiblings`, on by default).
 * Otherwise (p preempted c and can run on after its step, or q is c) reordering may need one
 * more preemption than s, which the bound may not allow, so p does not sleep.
 *
 * Sharding: the first `splitDecisions` decisions of every run are explored in full (each
 * task that could run there, within the bound), so the subtrees below them depend on no
 * race found outside them. They are numbered in the order the search meets them (the same
 * in every shard), and shard k of n explores those whose number is k mod n. A shard still
 * runs the first run of each subtree it does not own, to find the subtrees below (a probe:
 * `owned` is false, and it is not an execution of the shard). The shards' executions
 * together are the unsharded search's, each once.
 */
export class DporSearch {
  readonly bound: number;
  readonly sleepSets: boolean;
  readonly sleepBlockedSiblings: boolean;
  readonly splitDecisions: number;
  readonly #shardIndex: number;
  readonly #shardCount: number;
  readonly #stack: Node[] = [];
  /** Decisions of the next run, or null when the search is exhausted. */
  #prefix: number[] | null = [];
  /** Step index of the branch point of the next run (-1: the first run). */
  #branch = -1;
  #branchNode: Node | null = null;
  /** Number of the subtree (see sharding) the current run belongs to. */
  #subtree = -1;
  /** Runs of this shard started (probes not included). */
  executions = 0;
  /** Runs that ended on their own (not abandoned): distinct interleaving classes among them. */
  classes = 0;
  /** Runs abandoned as sleep-set blocked. */
  abandoned = 0;
  /** Runs of subtrees other shards own (see sharding). */
  probes = 0;
  /** Class hashes (see `classHash`) of the runs that ended on their own. */
  readonly #classes = new Set<number>();
  // Scratch of the race analysis, kept from run to run.
  #vc = new Int32Array(0);
  readonly #cands: number[] = [];
  #levels = new Int32Array(0);
  /** Dense object index of each access of the run analysed. */
  #accIdx = new Int32Array(0);
  /** Dense index of each object id met (the per-object arrays below are indexed by it). */
  readonly #index = new Map<number, number>();
  /** Per object: the analysis (`#gen`) its last write and read list are of. */
  #gens = new Int32Array(0);
  /** Per object: the step of its last write in this run, or -1. */
  #lastWriteOf = new Int32Array(0);
  /** Per object: the newest entry of its reads since its last write (see `#readStep`), or -1. */
  #readHead = new Int32Array(0);
  /** Per object: the step (`#stamp`) that last met it, and how (1 write, 0 read only). */
  #seen = new Int32Array(0);
  #mode = new Int32Array(0);
  #gen = 0;
  #stamp = 0;
  /** Read entries of this run: the reading step, and the next older entry of the object. */
  #readStep = new Int32Array(0);
  #readNext = new Int32Array(0);
  readonly #uniq: number[] = [];

  constructor(options: DporOptions = {}) {
    this.bound = options.preemptionBound ?? Number.POSITIVE_INFINITY;
    this.sleepSets = options.sleepSets ?? true;
    this.sleepBlockedSiblings = options.sleepBlockedSiblings ?? true;
    this.splitDecisions = options.splitDecisions ?? 0;
    const shard = options.shard ?? { index: 0, count: 1 };
    if (
      !Number.isInteger(shard.count) ||
      shard.count < 1 ||
      !Number.isInteger(shard.index) ||
      shard.index < 0 ||
      shard.index >= shard.count
    ) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `dpor: shard must be { index, count } with 0 <= index < count; got ${JSON.stringify(shard)}`,
      );
    }
    if (!Number.isInteger(this.splitDecisions) || this.splitDecisions < 0) {
      throw new MmsimError('INVALID_CONFIG', 'dpor: splitDecisions must be an integer >= 0');
    }
    this.#shardIndex = shard.index;
    this.#shardCount = shard.count;
  }

  /** True when every schedule within the bound is covered. */
  get exhausted(): boolean {
    return this.#prefix === null;
  }

  /**
   * Whether the current run (the one `nextStrategy` last gave) is an execution of this
   * shard; false for a probe of a subtree another shard owns.
   */
  get owned(): boolean {
    return this.#subtree % this.#shardCount === this.#shardIndex;
  }

  /** The number of the subtree (see sharding) of the current run, from 0 in search order. */
  get subtree(): number {
    return this.#subtree;
  }

  /**
   * The class hashes counted in `classes` (one per distinct interleaving class among this
   * shard's runs that ended on their own; see `classHash`): to take the union of the classes
   * of several shards of one search.
   */
  get classHashes(): ReadonlySet<number> {
    return this.#classes;
  }

  /** The strategy for the next run, recording into `log` (which the run's runtime must get). */
  nextStrategy(log: FootprintLog): DporStrategy | null {
    const prefix = this.#prefix;
    if (prefix === null) return null;
    log.clear();
    let sleep: Map<number, StepFootprint>;
    const branch = this.#branchNode;
    if (this.#branch < 0 || branch === null) {
      sleep = new Map();
      this.#subtree = 0;
    } else {
      sleep = this.sleepSets ? new Map(branch.sleep) : new Map();
      if (this.sleepSets) {
        // The task now tried here: the last decision of the prefix.
        const q = prefix[prefix.length - 1] as number;
        for (const [id, d] of branch.done) {
          if (d !== null && (d.always || q !== branch.previous)) sleep.set(id, d.footprint);
        }
      }
      if (branch.decision < this.splitDecisions) this.#subtree++;
    }
    if (this.owned) this.executions++;
    else this.probes++;
    return new DporStrategy(prefix, sleep, this.sleepSets, this.bound, log);
  }

  /** Takes in the run `strategy` made (ended, crashed or abandoned) and finds the next. */
  finish(strategy: DporStrategy, abandoned: boolean): void {
    const log = strategy.log;
    log.end(); // a run that crashed leaves its last step open
    // A task that slept ran where it was the only one that could (no decision): the run is
    // sleep-set blocked there, as at a decision; what it ran from there is not analysed.
    const cut = this.sleepSets ? strategy.sleeperStep() : -1;
    const end = cut >= 0 ? cut : log.length;
    if (cut >= 0) abandoned = true;
    const owned = this.owned;
    const branch = this.#branch;
    const stack = this.#stack;
    stack.length = Math.max(branch, 0);
    const split = this.splitDecisions;
    const unbounded = this.bound === Number.POSITIVE_INFINITY;
    // Rebuild the nodes from the branch point on, from the run's steps and decisions.
    const records = strategy.records;
    let r = 0;
    while (r < records.length && (records[r] as DecisionRecord).step < branch) r++;
    let spent = branch > 0 ? spentAfter(stack[branch - 1] as Node) : 0;
    const tasks = log.tasks;
    for (let k = Math.max(branch, 0); k < end; k++) {
      const rec = records[r];
      const task = tasks[k] as number;
      const previous = k === 0 ? 0 : (tasks[k - 1] as number);
      let node: Node;
      if (rec !== undefined && rec.step === k) {
        r++;
        const old = k === branch ? this.#branchNode : null;
        node = {
          eligible: rec.eligible,
          decision: rec.decision,
          previous,
          spentBefore: rec.spentBefore,
          chosen: task,
          backtrack: old?.backtrack ?? new Set(),
          done: old?.done ?? new Map(),
          sleep: old?.sleep ?? rec.sleep,
        };
        // A footprint is kept where a sleep set will use it (see the class comment).
        let done: DoneStep | null = null;
        if (this.sleepSets) {
          if (unbounded || task === previous)
            done = { footprint: log.footprintOf(k), always: true };
          else if (this.sleepBlockedSiblings && !enabledAfter(log, records, r, k)) {
            done = { footprint: log.footprintOf(k), always: false };
          }
        }
        node.done.set(task, done);
        node.backtrack.delete(task);
        if (old === null && rec.decision < split) {
          // The top of the tree is explored in full (sharding).
          for (const t of rec.eligible) if (t !== task) node.backtrack.add(t);
        }
      } else {
        node = {
          eligible: null,
          decision: -1,
          previous,
          spentBefore: spent,
          chosen: task,
          backtrack: NO_TASKS,
          done: NO_DONE,
          sleep: EMPTY,
        };
      }
      stack[k] = node;
      spent = spentAfter(node);
    }
    const key = this.#analyse(log, end, Math.max(branch, 0), stack);
    if (owned) {
      if (abandoned) this.abandoned++;
      else if (!this.#classes.has(key)) {
        this.#classes.add(key);
        this.classes++;
      }
    }
    if (!owned) {
      // A probe: the subtree below the split is another shard's.
      for (let k = stack.length - 1; k >= 0; k--) {
        const node = stack[k] as Node;
        if (node.decision >= 0 && node.decision < split) break;
        if (node.decision >= 0) node.backtrack.clear();
      }
    }
    this.#pickNext(stack);
  }

  /**
   * Finds the races whose later step is at or after `from`, and adds backtrack points.
   * Returns the run's class hash (`classHash` of the Foata levels it computes on the way).
   */
  #analyse(log: FootprintLog, n: number, from: number, stack: Node[]): number {
    const taskOf = log.tasks;
    const starts = log.starts;
    const objects = log.objects;
    const writes = log.writes;
    const global = log.global;
    let w = 1;
    for (let k = 0; k < n; k++) if ((taskOf[k] as number) + 1 > w) w = (taskOf[k] as number) + 1;
    // Vector clocks, one row of w entries per step: vc[k * w + t] = 1 + the last step of
    // task t that happens before step k (0: none).
    if (this.#vc.length < n * w) this.#vc = new Int32Array(Math.max(n * w, 2 * this.#vc.length));
    const vc = this.#vc;
    const lastOfTask = new Int32Array(w).fill(-1);
    // Foata level of each step: 1 + the highest level of the steps it depends on.
    if (this.#levels.length < n)
      this.#levels = new Int32Array(Math.max(n, 2 * this.#levels.length));
    const levels = this.#levels;
    // Per object (by dense index): the last write and the reads since, valid in this run
    // only (`#gen`); a step's accesses to one object count once, as a write if any is.
    const gen = this.#nextGen();
    const accesses = starts[n] as number;
    if (this.#readStep.length < accesses) {
      const size = Math.max(accesses, 2 * this.#readStep.length);
      this.#readStep = new Int32Array(size);
      this.#readNext = new Int32Array(size);
      this.#accIdx = new Int32Array(size);
    }
    const readStep = this.#readStep;
    const readNext = this.#readNext;
    // Every object's dense index first (the per-object arrays then stay as they are).
    const accIdx = this.#accIdx;
    for (let a = 0; a < accesses; a++) accIdx[a] = this.#intern(objects[a] as number);
    const seenGen = this.#gens;
    const lastWrite = this.#lastWriteOf;
    const readHead = this.#readHead;
    const seen = this.#seen;
    const mode = this.#mode;
    let h1 = 0;
    let h2 = 0;
    let readCount = 0;
    const uniq = this.#uniq;
    const cands = this.#cands;
    let lastGlobal = -1;
    for (let k = 0; k < n; k++) {
      const p = taskOf[k] as number;
      const prev = lastOfTask[p] as number;
      const row = k * w;
      if (prev >= 0)
        for (let t = 0, src = prev * w; t < w; t++) vc[row + t] = vc[src + t] as number;
      else for (let t = 0; t < w; t++) vc[row + t] = 0;
      cands.length = 0;
      const from0 = starts[k] as number;
      const to0 = starts[k + 1] as number;
      // The step's objects, each once, with its strongest access (`#mode`: 1 write, 0 read).
      uniq.length = 0;
      const stamp = this.#nextStamp();
      for (let a = from0; a < to0; a++) {
        const x = accIdx[a] as number;
        if (seen[x] !== stamp) {
          seen[x] = stamp;
          mode[x] = writes[a] as number;
          uniq.push(x);
        } else if (writes[a] === 1) mode[x] = 1;
      }
      if (global[k] === 1) {
        for (let t = 0; t < w; t++) {
          const i = lastOfTask[t] as number;
          if (t !== p && i >= 0 && !cands.includes(i)) cands.push(i);
        }
      } else {
        if (lastGlobal >= 0) cands.push(lastGlobal);
        for (const x of uniq) {
          if (seenGen[x] !== gen) continue; // not touched before in this run
          const lw = lastWrite[x] as number;
          if (lw >= 0 && !cands.includes(lw)) cands.push(lw);
          if (mode[x] === 1) {
            for (let c = readHead[x] as number; c >= 0; c = readNext[c] as number) {
              const rd = readStep[c] as number;
              if (!cands.includes(rd)) cands.push(rd);
            }
          }
        }
      }
      let level = prev >= 0 ? (levels[prev] as number) : 0;
      for (const i of cands) {
        if ((levels[i] as number) > level) level = levels[i] as number;
        const ci = i * w;
        for (let t = 0; t < w; t++) {
          const x = vc[ci + t] as number;
          if (x > (vc[row + t] as number)) vc[row + t] = x;
        }
      }
      vc[row + p] = k + 1;
      levels[k] = level + 1;
      h1 = (h1 + classCode1(level + 1, p)) | 0;
      h2 = (h2 + classCode2(level + 1, p)) | 0;
      if (k >= from) {
        for (const i of cands) {
          const q = taskOf[i] as number;
          if (q === p) continue;
          if (prev >= 0 && (vc[prev * w + q] as number) >= i + 1) continue;
          let immediate = true;
          for (const j of cands) {
            if (j !== i && (vc[j * w + q] as number) >= i + 1) {
              immediate = false;
              break;
            }
          }
          if (immediate) this.#race(log, w, i, k, stack);
        }
      }
      for (const x of uniq) {
        if (seenGen[x] !== gen) {
          seenGen[x] = gen;
          lastWrite[x] = -1;
          readHead[x] = -1;
        }
        if (mode[x] === 1) {
          lastWrite[x] = k;
          readHead[x] = -1;
        } else {
          readStep[readCount] = k;
          readNext[readCount] = readHead[x] as number;
          readHead[x] = readCount++;
        }
      }
      if (global[k] === 1) lastGlobal = k;
      lastOfTask[p] = k;
    }
    return classHash(h1, h2, n);
  }

  /** The dense index of object `id` (given once, kept for the search). */
  #intern(id: number): number {
    let x = this.#index.get(id);
    if (x === undefined) {
      x = this.#index.size;
      this.#index.set(id, x);
      if (x >= this.#gens.length) {
        const size = Math.max(64, 2 * this.#gens.length);
        const grow = (a: Int32Array) => {
          const b = new Int32Array(size);
          b.set(a);
          return b;
        };
        this.#gens = grow(this.#gens);
        this.#lastWriteOf = grow(this.#lastWriteOf);
        this.#readHead = grow(this.#readHead);
        this.#seen = grow(this.#seen);
        this.#mode = grow(this.#mode);
      }
    }
    return x;
  }

  /** A number no object's `#gens` entry holds yet (one per analysis). */
  #nextGen(): number {
    if (this.#gen >= 0x3fffffff) {
      this.#gen = 0;
      this.#gens.fill(0);
    }
    return ++this.#gen;
  }

  /** A number no object's `#seen` entry holds yet (one per step analysed). */
  #nextStamp(): number {
    if (this.#stamp >= 0x3fffffff) {
      this.#stamp = 0;
      this.#seen.fill(0);
    }
    return ++this.#stamp;
  }

  /** Adds the backtrack points of the race between steps `i` and `k` (`w` tasks a clock). */
  #race(log: FootprintLog, w: number, i: number, k: number, stack: Node[]): void {
    const vc = this.#vc;
    const taskOf = log.tasks;
    const qi = taskOf[i] as number;
    // Initials of v = (steps after i not ordered after i), then step k.
    const firstTask: number[] = [];
    const firstAt: number[] = [];
    const initials: number[] = [];
    for (let j = i + 1; j <= k; j++) {
      const cj = j * w;
      if (j < k && (vc[cj + qi] as number) >= i + 1) continue;
      const t = taskOf[j] as number;
      if (firstTask.includes(t)) continue;
      let initial = true;
      for (let f = 0; f < firstTask.length; f++) {
        if ((vc[cj + (firstTask[f] as number)] as number) >= (firstAt[f] as number) + 1) {
          initial = false;
          break;
        }
      }
      firstTask.push(t);
      firstAt.push(j);
      if (initial) initials.push(t);
    }
    const p = taskOf[k] as number;
    const node = stack[i] as Node;
    for (const t of initials) if (isCovered(node, t)) return;
    const q = initials.includes(p) ? p : (initials[0] as number);
    addBacktrack(node, q);
    // BPOR: also at the last context switch before step i.
    let j = i;
    while (j > 0 && taskOf[j - 1] === taskOf[j]) j--;
    if (j !== i) {
      const at = stack[j] as Node;
      if (!isCovered(at, q)) addBacktrack(at, q);
    }
  }

  #pickNext(stack: Node[]): void {
    for (let k = stack.length - 1; k >= 0; k--) {
      const node = stack[k] as Node;
      if (node.decision < 0 || node.backtrack.size === 0) continue;
      const eligible = node.eligible as readonly number[];
      for (const q of [...node.backtrack].sort((a, b) => a - b)) {
        node.backtrack.delete(q);
        if (node.done.has(q)) continue;
        if (this.sleepSets && node.sleep.has(q)) continue;
        const cost = q !== node.previous && eligible.includes(node.previous) ? 1 : 0;
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

/** A 32-bit mix (the finaliser of MurmurHash3). */
function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The two 32-bit hashes of one step of a run, at Foata level `level`, of task `task`. */
function classCode1(level: number, task: number): number {
  return mix32(Math.imul(level, 0x9e3779b1) ^ mix32(task + 0x632be5ab));
}
function classCode2(level: number, task: number): number {
  return mix32(Math.imul(level ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(task + 1, 0x165667b1));
}

/**
 * A 53-bit hash of a run's interleaving class from the sums (mod 2^32) of its steps'
 * `classCode1` and `classCode2` and its length: the multiset of (Foata level, task) of its
 * steps is its Foata normal form (as `FootprintLog.classKey` lists it), and sums do not
 * depend on the order of the steps, so runs of one class have the same hash; two classes
 * share one with probability about 2^-53 per pair.
 */
function classHash(h1: number, h2: number, n: number): number {
  const a = mix32(h1 ^ mix32(n));
  const b = mix32(h2 + Math.imul(n, 0x7feb352d));
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** The backtrack set and done map of every node without a decision (never written). */
const NO_TASKS: Set<number> = new Set();
const NO_DONE: Map<number, DoneStep | null> = new Map();

/**
 * Whether the task of step `k` could run again right after it (it is then eligible at step
 * k + 1); `records[r]` is the first decision after step k. Unknown after the last step: true.
 */
function enabledAfter(
  log: FootprintLog,
  records: readonly DecisionRecord[],
  r: number,
  k: number,
): boolean {
  const task = log.tasks[k] as number;
  if (k + 1 >= log.length) return true;
  const next = records[r];
  if (next !== undefined && next.step === k + 1) return next.eligible.includes(task);
  // No decision: the task of step k + 1 was the only one that could run.
  return log.tasks[k + 1] === task;
}

function spentAfter(node: Node): number {
  const preempted =
    node.eligible !== null &&
    node.chosen !== node.previous &&
    node.eligible.includes(node.previous);
  return node.spentBefore + (preempted ? 1 : 0);
}

/** Whether `t` was tried or is to be tried at the node (where no decision was: only its task). */
function isCovered(node: Node, t: number): boolean {
  if (node.eligible === null) return t === node.chosen;
  return node.backtrack.has(t) || node.done.has(t);
}

/** Adds `q` to the node's backtrack set, or every task that could run there when q could not. */
function addBacktrack(node: Node, q: number): void {
  const eligible = node.eligible;
  if (eligible === null) return; // only its own task could run there, and it ran
  if (eligible.includes(q)) node.backtrack.add(q);
  else for (const t of eligible) if (!node.done.has(t)) node.backtrack.add(t);
}

/**
 * The strategy of one DPOR run: the decisions of a prefix, then the default choice (the
 * task that ran last, else the lowest id) among the tasks not in the sleep set, within the
 * preemption bound.
 */
export class DporStrategy implements Strategy {
  readonly name = 'dpor';
  readonly log: FootprintLog;
  /** The decisions from the branch point on (those before it are the prefix's). */
  readonly records: DecisionRecord[] = [];
  readonly #prefix: readonly number[];
  readonly #sleep: Map<number, StepFootprint>;
  readonly #useSleep: boolean;
  readonly #bound: number;
  /** Steps of the log already applied to the sleep set. */
  #seen = 0;
  #spent = 0;
  /** Whether the run has passed its branch point (the sleep set is in use). */
  #branched = false;
  /** The first step a sleeping task ran (where it was the only one that could), or -1. */
  #sleeperStep = -1;

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
    if (decision > branchAt) {
      this.#updateSleep();
      // A sleeping task ran since the last decision: nothing new can come of this run.
      if (this.#sleeperStep >= 0) throw new ScheduleAbandoned();
    }
    let continuing: Task | undefined;
    for (const t of eligible) if (t.id === previous) continuing = t;
    let chosen: Task | undefined;
    if (inPrefix) {
      const id = this.#prefix[decision] as number;
      for (const t of eligible) if (t.id === id) chosen = t;
      if (chosen === undefined) {
        throw new MmsimError(
          'REPLAY_DIVERGED',
          `dpor: at decision ${decision + 1} task ${id} could not run, but it could in an ` +
            'earlier run; the program under test is not deterministic',
        );
      }
    } else {
      const sleep = this.#sleep;
      if (continuing !== undefined && !sleep.has(continuing.id)) chosen = continuing;
      else if (continuing === undefined || this.#spent < this.#bound) {
        for (const t of eligible) {
          if (!sleep.has(t.id)) {
            chosen = t;
            break;
          }
        }
      }
      if (chosen === undefined) throw new ScheduleAbandoned();
    }
    if (decision >= branchAt) {
      const ids: number[] = [];
      for (const t of eligible) ids.push(t.id);
      this.records.push({
        step,
        decision,
        eligible: ids,
        previous,
        spentBefore: this.#spent,
        chosen: chosen.id,
        sleep: this.#sleep.size === 0 ? EMPTY : new Map(this.#sleep),
      });
    }
    if (continuing !== undefined && chosen !== continuing) this.#spent++;
    if (decision === branchAt) {
      // The branch: what was explored here sleeps, except the task now chosen.
      this.#sleep.delete(chosen.id);
      this.#seen = step;
      this.#branched = true;
    }
    return chosen;
  }

  /**
   * The first step after the branch point run by a task in the sleep set (which happens
   * only where it was the only task that could run: no decision), or -1. The run is
   * sleep-set blocked from that step on: every schedule through it is covered by the
   * branch that slept the task. Called once the run is over.
   */
  sleeperStep(): number {
    if (this.#branched || this.#prefix.length === 0) this.#updateSleep();
    return this.#sleeperStep;
  }

  /** Wakes the sleeping tasks whose step depends on a step run since the last call. */
  #updateSleep(): void {
    const log = this.log;
    const sleep = this.#sleep;
    if (!this.#useSleep || sleep.size === 0) {
      sleep.clear();
      this.#seen = log.length;
      return;
    }
    const tasks = log.tasks;
    for (let j = this.#seen; j < log.length; j++) {
      if (this.#sleeperStep < 0 && sleep.has(tasks[j] as number)) this.#sleeperStep = j;
      for (const [id, fp] of sleep) if (log.dependsOn(j, fp)) sleep.delete(id);
    }
    this.#seen = log.length;
  }
}

export interface DporExploreOptions extends DporOptions {
  /** Stop after this many runs. Default 100 000. */
  readonly maxSchedules?: number;
}

export interface DporExploreResult {
  /** Runs of this shard (probes not included), abandoned ones included. */
  readonly executions: number;
  /** Distinct interleaving classes among the runs that ended on their own. */
  readonly classes: number;
  /** Runs abandoned as sleep-set blocked. */
  readonly abandoned: number;
  /** True when the search was exhausted (the run limit was not hit). */
  readonly complete: boolean;
}

/**
 * Runs a program under DPOR until the search is exhausted (see `DporSearch`). `runOnce`
 * must build a fresh runtime with the strategy and footprint log it is given
 * (`new Runtime({ strategy, footprints, declaredFootprints: true, ... })` when the program
 * declares its shared accesses), run it and check what it wants; `ScheduleAbandoned`
 * thrown by `run()` must be let through. With `shard`, `runOnce` also sees the probes of
 * the other shards' subtrees: its third argument is false for them.
 */
export function exploreWithDpor(
  runOnce: (strategy: Strategy, footprints: FootprintLog, owned: boolean) => void,
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
      runOnce(strategy, log, search.owned);
    } catch (error) {
      if (!(error instanceof ScheduleAbandoned)) throw error;
      abandoned = true;
    }
    search.finish(strategy, abandoned);
  }
  return {
    executions: search.executions,
    classes: search.classes,
    abandoned: search.abandoned,
    complete: search.exhausted,
  };
}
