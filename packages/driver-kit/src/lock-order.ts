import type { Kernel } from '@mmsim/kernel';
import type { DependencyEdge } from '@mmsim/page-lock';
import { type KernelGen, Mutex, OwnedLock, Spinlock, type Task } from '@mmsim/runtime';

/** The class every page lock collapses to, as lockdep would see `lock_page`. */
export const PAGE_LOCK_CLASS = 'page lock';

/** How deep `watch` looks into a driver's state for its locks. */
const MAX_DEPTH = 4;

/**
 * Watches a driver's own locks (the runtime spinlocks and mutexes found in its state) and
 * feeds them to the kernel's page-lock dependency checker (`holdLock` / `dependLock` /
 * `releaseLock`), so that the checker's graph holds the driver locks next to the folio
 * locks. `inversion()` then looks for a cycle through a driver lock, with every folio lock
 * counted as one class (`page lock`): what lockdep would report if `lock_page` had a lock
 * class. Only the kit's machines get this: each lock object is patched in place.
 */
export class DriverLockWatch {
  readonly #k: Kernel;
  readonly #driver: string;
  /** The classes of the driver's locks. */
  readonly classes = new Set<string>();
  /** Depth of callbacks the core is running (they run with the page lock held). */
  #inCallback = 0;
  #seenEdges = 0;
  #found: string | null = null;

  constructor(k: Kernel, driver: string) {
    this.#k = k;
    this.#driver = driver;
  }

  enterCallback(): void {
    this.#inCallback++;
  }

  leaveCallback(): void {
    this.#inCallback--;
  }

  /** Finds the spinlocks and mutexes in `state` and instruments them. */
  watch(state: unknown): void {
    if (this.#k.checker === null) return;
    const seen = new Set<object>();
    const visit = (value: unknown, path: string, depth: number): void => {
      if (typeof value !== 'object' || value === null || seen.has(value)) return;
      seen.add(value);
      if (value instanceof OwnedLock) {
        this.#instrument(value, `${this.#driver}:${value.name || path}`);
        return;
      }
      if (depth >= MAX_DEPTH || value === this.#k || ArrayBuffer.isView(value)) return;
      if (value instanceof Map) {
        for (const [key, v] of value) visit(v, `${path}.${String(key)}`, depth + 1);
        return;
      }
      if (value instanceof Set) return;
      for (const [key, v] of Object.entries(value)) visit(v, `${path}.${key}`, depth + 1);
    };
    visit(state, 'state', 0);
  }

  #instrument(lock: OwnedLock, lockClass: string): void {
    const checker = this.#k.checker;
    if (checker === null) return;
    const rt = this.#k.rt;
    const watch = this;
    this.classes.add(lockClass);
    const proto = Object.getPrototypeOf(lock) as OwnedLock;
    const trylock = proto.trylock;
    const unlock = proto.unlock;
    /** Tasks inside the patched `lock` (its inner trylock must not count twice). */
    const locking = new Set<Task>();
    const kind = lock instanceof Mutex ? 'mutex_lock' : 'spin_lock';
    const target = lock as OwnedLock & {
      lock: (...args: unknown[]) => KernelGen;
      lockContended?: () => KernelGen;
    };
    target.trylock = function (this: OwnedLock): boolean {
      const ok = trylock.call(this);
      const me = rt.current;
      if (ok && !locking.has(me)) {
        // A callback of the core is one atomic step, so a driver takes its lock there with
        // a trylock that stands for the kernel's spin_lock / mutex_lock: a real acquisition
        // for the order, as lockdep would record it. Elsewhere a trylock adds no edge.
        if (watch.inCallback) checker.dependLock(me, lockClass, kind);
        checker.holdLock(me, lock, lockClass, `${kind} (trylock)`);
      }
      return ok;
    };
    const protoLock = (proto as unknown as typeof target).lock;
    target.lock = function* (this: OwnedLock, ...args: unknown[]): KernelGen {
      const me = rt.current;
      checker.dependLock(me, lockClass, kind);
      locking.add(me);
      try {
        yield* protoLock.apply(this, args);
      } finally {
        locking.delete(me);
      }
      checker.holdLock(me, lock, lockClass, kind);
    };
    if (lock instanceof Spinlock) {
      const contended = (proto as unknown as Spinlock).lockContended;
      target.lockContended = function* (this: Spinlock): KernelGen {
        const me = rt.current;
        const inner = locking.has(me);
        if (!inner) checker.dependLock(me, lockClass, kind);
        yield* contended.call(this);
        if (!inner) checker.holdLock(me, lock, lockClass, kind);
      };
    }
    target.unlock = function (this: OwnedLock): void {
      const me = rt.current;
      unlock.call(this);
      checker.releaseLock(me, lock);
    };
  }

  /**
   * A dependency cycle through one of the driver's locks, page locks collapsed into one
   * class, as one line per dependency; null when there is none. Cheap when no dependency
   * was added since the last call.
   */
  inversion(): string | null {
    if (this.#found !== null) return this.#found;
    const checker = this.#k.checker;
    if (checker === null || this.classes.size === 0) return null;
    const edges = checker.dependencies;
    if (edges.length === this.#seenEdges) return null;
    this.#seenEdges = edges.length;
    const out = new Map<string, DependencyEdge[]>();
    const classOf = (c: string): string =>
      this.classes.has(c) ? c : c.startsWith('folio ') ? PAGE_LOCK_CLASS : c;
    for (const e of edges) {
      const from = classOf(e.from);
      const to = classOf(e.to);
      if (from === to) continue;
      const list = out.get(from) ?? [];
      list.push(e);
      out.set(from, list);
    }
    for (const start of this.classes) {
      const via = new Map<string, DependencyEdge>();
      const queue = [start];
      for (let i = 0; i < queue.length; i++) {
        const node = queue[i] as string;
        for (const e of out.get(node) ?? []) {
          const next = classOf(e.to);
          if (next === start) {
            const cycle: DependencyEdge[] = [e];
            for (let n = node; n !== start; ) {
              const prev = via.get(n) as DependencyEdge;
              cycle.unshift(prev);
              n = classOf(prev.from);
            }
            this.#found =
              `${this.#driver}: locks taken in both orders (a possible deadlock): ` +
              cycle
                .map(
                  (d) =>
                    `${d.task.name} holds ${classOf(d.from)} (${d.heldIn}) and takes ${classOf(d.to)} in ${d.acquiredIn}`,
                )
                .join('; ');
            return this.#found;
          }
          if (via.has(next) || next === start) continue;
          via.set(next, e);
          queue.push(next);
        }
      }
    }
    return null;
  }

  /** Whether a callback of the core is running (the page lock is held). */
  get inCallback(): boolean {
    return this.#inCallback > 0;
  }
}
