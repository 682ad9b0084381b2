import type { Folio } from '@mmsim/folio';
import { MmsimError, type Task, type TaskRef } from '@mmsim/runtime';

/**
 * What a task can hold for the checker: a folio lock, a buffer lock, writeback it owns, or
 * (`lock`) another lock a caller told the checker about with `holdLock`, such as a
 * movable-page driver's own spinlock or mutex (the driver conformance kit does).
 */
export type HeldKind = 'folio' | 'buffer' | 'writeback' | 'lock';

/** One lock (or owned writeback) a task holds, as the checker tracks it. */
export interface HeldLock {
  readonly kind: HeldKind;
  /** The lock class: the node of the dependency graph. */
  readonly lockClass: string;
  /** The kernel function (caller string) that took it, or started the writeback. */
  readonly takenIn: string;
  /** The folio (for a buffer: the folio it belonged to when locked). */
  readonly folio: Folio;
  /** The buffer head, for a buffer lock; the lock object, for a `lock`; null otherwise. */
  readonly buffer: object | null;
}

/**
 * One dependency: `task`, holding `from`, took or waited for `to`. Only the first time a
 * pair of classes is seen is kept.
 */
export interface DependencyEdge {
  readonly from: string;
  readonly to: string;
  readonly task: TaskRef;
  /** What `from` is: a lock held, or writeback the task owns. */
  readonly heldKind: HeldKind;
  /** The kernel function that took `from` (or started that writeback). */
  readonly heldIn: string;
  /** `lock`: a sleeping lock attempt on `to`; `wait`: a wait for `to` to be released or end. */
  readonly how: 'lock' | 'wait';
  /** The kernel function that took or waited for `to`. */
  readonly acquiredIn: string;
}

/**
 * A dependency cycle between lock classes: a possible deadlock, whether or not this run
 * deadlocked. `cycle[i].to` is `cycle[i + 1].from`; the last edge is the one whose addition
 * closed the cycle.
 */
export interface InversionReport {
  readonly cycle: readonly DependencyEdge[];
}

/** Options of the page-lock dependency checker. */
export interface DependencyCheckerOptions {
  /**
   * The lock class of a folio (a node of the graph). Default: one class per folio,
   * `folio 0x1200`. Return something coarser (`page cache of mapping M`) to merge folios;
   * two locks of one class taken together then make no edge (a self-dependency is not
   * reported, as lockdep would need a nesting annotation for it). Writeback and buffer
   * classes derive from it: `writeback of <class>`, `buffer <i> of <class>`. Must be pure.
   */
  readonly classOf?: (folio: Folio) => string;
  /** Called with each new report, when it is made. */
  readonly onInversion?: (report: InversionReport) => void;
}

function defaultClassOf(folio: Folio): string {
  return `folio 0x${folio.toString(16)}`;
}

/** The classes derived from one folio class: its writeback's, and its buffers' by index. */
interface DerivedClasses {
  writeback: string | null;
  readonly buffers: string[];
}

/**
 * The derived classes made so far, by folio class, shared by every checker: a class name is
 * a pure function of the folio class, and a lock attempt asked for it each time (a string
 * per buffer lock and writeback of each explored schedule). Emptied past `DERIVED_LIMIT`
 * folio classes, so a long-lived process keeps a bounded table.
 */
const derived = new Map<string, DerivedClasses>();
const DERIVED_LIMIT = 4096;
/** Buffer indices whose class is kept (a folio has a few buffers; larger ones are made). */
const DERIVED_BUFFERS = 64;

function derivedOf(cls: string): DerivedClasses {
  let d = derived.get(cls);
  if (d === undefined) {
    if (derived.size >= DERIVED_LIMIT) derived.clear();
    d = { writeback: null, buffers: [] };
    derived.set(cls, d);
  }
  return d;
}

function ref(task: Task): TaskRef {
  return { id: task.id, name: task.name, cpu: task.cpu.id };
}

/**
 * A page-lock dependency checker: what lockdep cannot do for PG_locked, PG_writeback and
 * BH_Lock, in the spirit of the out-of-tree DEPT tracker (Byungchul Park). Lockdep has no
 * coverage of these because they are released from another context than the one that took
 * them (I/O completion): Matthew Wilcox, Zqa1ZZrrlp5jHElW@casper.infradead.org on linux-mm.
 *
 * Per task it tracks the folio locks and buffer locks held and the writeback the task owns
 * (started, or was handed, and has not ended). Every sleeping lock attempt, and every wait
 * for a lock to be released or for writeback to end, made while holding some of those,
 * adds an edge from each held class to the class acquired or waited for, into one graph
 * shared by all tasks. A successful trylock makes a lock held but adds no edge into it
 * (a trylock cannot deadlock), as in lockdep. An edge that closes a cycle is reported at
 * once, even if this schedule did not deadlock, and each cycle is reported once.
 */
export class DependencyChecker {
  readonly #classOf: (folio: Folio) => string;
  readonly #onInversion: ((report: InversionReport) => void) | null;
  readonly #held = new Map<Task, HeldLock[]>();
  readonly #out = new Map<string, Map<string, DependencyEdge>>();
  readonly #edges: DependencyEdge[] = [];
  readonly #reports: InversionReport[] = [];
  /** The keys (`cycleKey`) of the cycles reported, made with the first report (most checkers make none). */
  #reported: Set<string> | null = null;

  constructor(options: DependencyCheckerOptions = {}) {
    const { classOf, onInversion } = options;
    if (classOf !== undefined && typeof classOf !== 'function') {
      throw new MmsimError('INVALID_CONFIG', 'dependencyChecking.classOf must be a function');
    }
    if (onInversion !== undefined && typeof onInversion !== 'function') {
      throw new MmsimError('INVALID_CONFIG', 'dependencyChecking.onInversion must be a function');
    }
    this.#classOf = classOf ?? defaultClassOf;
    this.#onInversion = onInversion ?? null;
  }

  /** The inversions found so far, in the order they were found. */
  get reports(): readonly InversionReport[] {
    return this.#reports;
  }

  /** Every dependency recorded so far, in the order first seen. */
  get dependencies(): readonly DependencyEdge[] {
    return this.#edges;
  }

  /** What `task` holds now, oldest first. */
  heldBy(task: Task): readonly HeldLock[] {
    return this.#held.get(task) ?? [];
  }

  /** The lock class of a folio's PG_locked. */
  folioClass(folio: Folio): string {
    const cls = this.#classOf(folio);
    if (typeof cls !== 'string') {
      throw new MmsimError(
        'INVALID_CONFIG',
        `dependencyChecking.classOf(0x${folio.toString(16)}) returned ${String(cls)}, not a string`,
      );
    }
    return cls;
  }

  /** The class of a folio's writeback. */
  writebackClass(folio: Folio): string {
    const cls = this.folioClass(folio);
    const d = derivedOf(cls);
    let name = d.writeback;
    if (name === null) {
      name = `writeback of ${cls}`;
      d.writeback = name;
    }
    return name;
  }

  /** The class of the lock of the `index`-th buffer of a folio. */
  bufferClass(folio: Folio, index: number): string {
    const cls = this.folioClass(folio);
    if (!(index >= 0 && index < DERIVED_BUFFERS)) return `buffer ${index} of ${cls}`;
    const d = derivedOf(cls);
    let name = d.buffers[index];
    if (name === undefined) {
      name = `buffer ${index} of ${cls}`;
      d.buffers[index] = name;
    }
    return name;
  }

  /** @internal `task` tries to take (`lock`) or waits for (`wait`) `to`. */
  depend(task: Task, to: string, how: 'lock' | 'wait', acquiredIn: string): void {
    const held = this.#held.get(task);
    if (held === undefined) return;
    for (const h of held) this.#addEdge(task, h, to, how, acquiredIn);
  }

  /** @internal `task` now holds `lock`. */
  hold(task: Task, lock: HeldLock): void {
    let held = this.#held.get(task);
    if (held === undefined) {
      held = [];
      this.#held.set(task, held);
    }
    held.push(lock);
  }

  /** @internal `task` no longer holds the lock of that kind on `folio` / `buffer`. */
  release(task: Task, kind: HeldKind, folio: Folio, buffer: object | null): HeldLock | null {
    const held = this.#held.get(task);
    if (held === undefined) return null;
    const last = held.length - 1;
    for (let i = last; i >= 0; i--) {
      const h = held[i] as HeldLock;
      if (h.kind === kind && (buffer !== null ? h.buffer === buffer : h.folio === folio)) {
        // Moved down by hand (splice would allocate the array of what it removed). A task
        // that holds nothing keeps its empty list: no Map delete and insert on every lock
        // round trip.
        for (let j = i; j < last; j++) held[j] = held[j + 1] as HeldLock;
        held.pop();
        return h;
      }
    }
    return null;
  }

  /** @internal The lock moves from `from` to `to` (folioLockTransfer and friends). */
  transfer(from: Task, to: Task, kind: HeldKind, folio: Folio, buffer: object | null): void {
    const h = this.release(from, kind, folio, buffer);
    if (h !== null) this.hold(to, h);
  }

  /**
   * `task` makes a sleeping attempt on `lock`, a lock outside the page locks (a driver's
   * spinlock or mutex) of class `lockClass`: an edge from every class it holds, as for a
   * folio lock. Call `holdLock` once it is taken.
   */
  dependLock(task: Task, lockClass: string, acquiredIn: string): void {
    this.depend(task, lockClass, 'lock', acquiredIn);
  }

  /**
   * `task` now holds `lock` (class `lockClass`, taken in `takenIn`): later folio, buffer and
   * lock attempts of the task get an edge from it, until `releaseLock`.
   */
  holdLock(task: Task, lock: object, lockClass: string, takenIn: string): void {
    this.hold(task, { kind: 'lock', lockClass, takenIn, folio: -1, buffer: lock });
  }

  /** `task` released `lock` (see `holdLock`). */
  releaseLock(task: Task, lock: object): void {
    this.release(task, 'lock', -1, lock);
  }

  #addEdge(task: Task, held: HeldLock, to: string, how: 'lock' | 'wait', acquiredIn: string): void {
    const from = held.lockClass;
    if (from === to) return;
    let out = this.#out.get(from);
    if (out === undefined) {
      out = new Map();
      this.#out.set(from, out);
    }
    if (out.has(to)) return;
    const edge: DependencyEdge = {
      from,
      to,
      task: ref(task),
      heldKind: held.kind,
      heldIn: held.takenIn,
      how,
      acquiredIn,
    };
    out.set(to, edge);
    this.#edges.push(edge);
    // A class with no edge out of it closes no cycle: no search (most new edges).
    if (!this.#out.has(to)) return;
    const cycle = this.#path(to, from);
    if (cycle === null) return;
    // The path is a fresh array: the closing edge goes on its end.
    cycle.push(edge);
    const key = cycleKey(cycle);
    let reported = this.#reported;
    if (reported === null) {
      reported = new Set();
      this.#reported = reported;
    } else if (reported.has(key)) {
      return;
    }
    reported.add(key);
    const report: InversionReport = { cycle };
    this.#reports.push(report);
    this.#onInversion?.(report);
  }

  /** The shortest chain of edges from `start` to `goal` (breadth first), or null. */
  #path(start: string, goal: string): DependencyEdge[] | null {
    // Filled with `set` and walked by the edges alone (an edge names its `to`): a map built
    // from an array of pairs, and pairs made per entry, cost more than the search.
    const via = new Map<string, DependencyEdge | null>();
    via.set(start, null);
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      const out = this.#out.get(queue[i] as string);
      if (out === undefined) continue;
      for (const edge of out.values()) {
        const next = edge.to;
        if (via.has(next)) continue;
        via.set(next, edge);
        if (next === goal) {
          const path: DependencyEdge[] = [];
          for (let e: DependencyEdge | null = edge; e !== null; e = via.get(e.from) ?? null) {
            path.push(e);
          }
          return path.reverse();
        }
        queue.push(next);
      }
    }
    return null;
  }
}

/** The cycle's classes, rotated to start at the smallest: the same cycle gives the same key. */
function cycleKey(cycle: readonly DependencyEdge[]): string {
  // Built in place: no array of classes, no slices (a buggy variant reports about once a
  // schedule). The first smallest class starts it; NUL separates the classes.
  const n = cycle.length;
  let low = 0;
  for (let i = 1; i < n; i++) {
    if ((cycle[i] as DependencyEdge).from < (cycle[low] as DependencyEdge).from) low = i;
  }
  let key = (cycle[low] as DependencyEdge).from;
  for (let k = 1; k < n; k++) key += `\u0000${(cycle[(low + k) % n] as DependencyEdge).from}`;
  return key;
}
