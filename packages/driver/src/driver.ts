import {
  type Folio,
  folioAlloc,
  folioCopyContents,
  folioGet,
  folioPut,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import type { Actor, Kernel, ShadowLocation } from '@mmsim/kernel';
import {
  clearPageMovable,
  type MigrateMode,
  type MovableOperations,
  setPageMovable,
} from '@mmsim/migrate';
import { type KernelGen, MmsimError } from '@mmsim/runtime';

/**
 * What a driver's code gets: the machine, and the page bookkeeping every driver of non-LRU
 * movable pages does the same way (allocate, hand to migration, move, give back), done so
 * that the model's checks know the driver's pages: each page the driver holds carries one
 * driver reference the frame-accounting invariant is told about, and each page's word is
 * known to the shadow memory under a stable per-slot key, so a migration that loses the
 * copy is caught like a lost user write.
 */
export interface DriverHost {
  readonly kernel: Kernel;
  readonly name: string;
  /**
   * An order-0 page on node `nid` (that node only), made movable with this driver's
   * operations (`__SetPageMovable(page, mops)` in the folio-6.3 protocol; the page type
   * bound to the driver's operations plus `SetPageMovableOps` in page-type-2025),
   * holding `word`, with one driver reference; -1 when the node has no free page.
   */
  allocPage(nid: number, word: number): Folio | -1;
  /** Stores `word` in one of the driver's pages (and tells the shadow memory). */
  writePage(folio: Folio, word: number): void;
  /** The word one of the driver's pages holds. */
  readPage(folio: Folio): number;
  /**
   * The usual successful `migrate_page` in one call: copy src's contents to dst, take the
   * driver's reference on dst and make it movable, move the page's slot (and its shadow
   * key) from src to dst, clear src's movable operations (`__ClearPageMovable`, folio-6.3
   * only: in page-type-2025 a page keeps them until it is freed) and drop the driver's
   * reference on src. Call it from `migratePage` with both pages locked, then return
   * MIGRATEPAGE_SUCCESS.
   */
  movePage(dst: Folio, src: Folio): void;
  /**
   * Gives a page back (balloon deflate, `zs_free` of a zspage's last object) and drops the
   * driver's reference. folio-6.3: `__ClearPageMovable` first, so if migration holds the
   * page isolated the core sees a page without operations and lets it go. page-type-2025:
   * the page keeps its operations until freed, so never free a page that is isolated (take
   * it off your lists in `isolatePage`, as balloon and zsmalloc do).
   */
  freePage(folio: Folio): void;
  /** The driver's pages now, in slot order. */
  readonly pages: readonly Folio[];
}

/** A driver's concurrent operation (`zs_malloc`, `zs_compact`, inflate...): an actor body. */
export type DriverOperation<S> = (s: S, host: DriverHost, arg: number) => KernelGen<unknown>;

/**
 * A driver of non-LRU movable pages, written against the `movable_operations` protocol
 * (include/linux/migrate.h). The callbacks get the driver's state first and its host last.
 */
export interface DriverSpec<S> {
  readonly name: string;
  /** Builds the driver's state: its lists and its own locks (runtime spinlocks / mutexes). */
  setup(host: DriverHost): S;
  /** `isolate_page(page, mode)`: the page is locked; true when it may be migrated now. */
  isolatePage(s: S, page: Folio, mode: number, host: DriverHost): boolean;
  /**
   * `migrate_page(dst, src, mode)`: both pages locked; MIGRATEPAGE_SUCCESS (0) after moving
   * the page (`host.movePage`), -EAGAIN to be retried, another negative errno to fail.
   */
  migratePage(s: S, dst: Folio, src: Folio, mode: MigrateMode, host: DriverHost): number;
  /** `putback_page(page)`: migration gave up on an isolated page; it is the driver's again. */
  putbackPage(s: S, page: Folio, host: DriverHost): void;
  /** Puts `count` pages of the driver on node `nid` (before the run, from a setup). */
  populate(s: S, host: DriverHost, nid: number, count: number): void;
  /** The driver's own concurrent operations, as actor bodies taking one number. */
  readonly operations?: Readonly<Record<string, DriverOperation<S>>>;
}

/** Options of `DriverDefinition.attach`. */
export interface AttachOptions {
  /**
   * The instance's name (messages, the reference holder, shadow keys); default the spec's
   * `name`. Two instances of one driver on a machine need different names.
   */
  readonly name?: string;
  /**
   * End the run at the first callback that throws (the core still undoes what it did for
   * that folio first, so the machine is consistent). Default: false, the run goes on.
   */
  readonly stopOnDriverError?: boolean;
}

/** Options of `AttachedDriver.actor`. */
export interface DriverActorOptions {
  readonly cpu: number;
  /** The number handed to the operation (a count, a size...); default 1. */
  readonly arg?: number;
  /** The task's comm; default `<driver>-<operation>`. */
  readonly name?: string;
}

/** A driver attached to one machine. */
export interface AttachedDriver<S> {
  readonly host: DriverHost;
  readonly state: S;
  /** The `movable_operations` the migration core calls. */
  readonly mops: MovableOperations;
  /** Whether the run ends at the first driver error (see `AttachOptions`). */
  readonly stopOnDriverError: boolean;
  /** Puts `count` driver pages on node `nid` (`spec.populate`). */
  populate(nid: number, count: number): void;
  /** An actor running one of the driver's `operations` once. */
  actor(operation: string, options: DriverActorOptions): Actor;
  /** The shadow-memory location of the page in `slot` (the word of whichever frame holds it). */
  location(slot: number): ShadowLocation;
}

/** A driver ready to be attached to machines. */
export interface DriverDefinition<S> {
  readonly spec: DriverSpec<S>;
  attach(k: Kernel, options?: AttachOptions): AttachedDriver<S>;
}

function checkSpec<S>(spec: DriverSpec<S>): void {
  if (typeof spec !== 'object' || spec === null) {
    throw new MmsimError('INVALID_ARGUMENT', 'defineDriver: the driver spec must be an object');
  }
  if (typeof spec.name !== 'string' || spec.name.length === 0) {
    throw new MmsimError('INVALID_ARGUMENT', 'defineDriver: name must be a non-empty string');
  }
  for (const member of ['setup', 'isolatePage', 'migratePage', 'putbackPage', 'populate']) {
    if (typeof (spec as unknown as Record<string, unknown>)[member] !== 'function') {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `defineDriver: driver ${spec.name}: ${member} must be a function`,
      );
    }
  }
  const ops = spec.operations;
  if (ops !== undefined) {
    if (typeof ops !== 'object' || ops === null) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `defineDriver: driver ${spec.name}: operations must be an object of generator functions`,
      );
    }
    for (const [op, fn] of Object.entries(ops)) {
      if (typeof fn !== 'function') {
        throw new MmsimError(
          'INVALID_ARGUMENT',
          `defineDriver: driver ${spec.name}: operation ${op} must be a generator function`,
        );
      }
    }
  }
}

/** The host: the driver's pages by slot, their references and shadow keys. */
class Host implements DriverHost {
  readonly kernel: Kernel;
  readonly name: string;
  /** Set right after construction (the operations need the host, the host the operations). */
  mops!: MovableOperations;
  /** The frame of each slot; -1 for a slot whose page was given back. */
  readonly #slots: Folio[] = [];
  readonly #slotOf = new Map<Folio, number>();
  readonly #locations: ShadowLocation[] = [];

  constructor(k: Kernel, name: string) {
    this.kernel = k;
    this.name = name;
    k.addReferenceHolder({ name, refs: (folio) => (this.#slotOf.has(folio) ? 1 : 0) });
  }

  #slot(folio: Folio, what: string): number {
    const slot = this.#slotOf.get(folio);
    if (slot === undefined) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `driver ${this.name}: ${what}: folio ${String(folio)} is not one of the driver's pages`,
      );
    }
    return slot;
  }

  location(slot: number): ShadowLocation {
    const known = this.#locations[slot];
    if (known !== undefined) return known;
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#slots.length) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `driver ${this.name}: no slot ${String(slot)} (the driver has ${this.#slots.length})`,
      );
    }
    const mem = this.kernel.mem;
    const slots = this.#slots;
    const where: ShadowLocation = {
      kind: 'custom',
      name: `${this.name}[${slot}]`,
      read: () => {
        const folio = slots[slot];
        return folio === undefined || folio < 0 ? null : pageContent(mem, folio);
      },
    };
    this.#locations[slot] = where;
    return where;
  }

  allocPage(nid: number, word: number): Folio | -1 {
    const k = this.kernel;
    if (!Number.isInteger(nid) || nid < 0 || nid >= k.nrNodes) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `driver ${this.name}: allocPage: node ${String(nid)} is not in 0..${k.nrNodes - 1}`,
      );
    }
    const mem = k.mem;
    const folio = folioAlloc(mem, 0, nid, { thisNode: true });
    if (folio < 0) return -1;
    setPageContent(mem, folio, word);
    setPageMovable(mem, folio, this.mops);
    const slot = this.#slots.length;
    this.#slots.push(folio);
    this.#slotOf.set(folio, slot);
    k.shadow.wrote(this.location(slot), word, this.name);
    return folio;
  }

  writePage(folio: Folio, word: number): void {
    const slot = this.#slot(folio, 'writePage');
    setPageContent(this.kernel.mem, folio, word);
    this.kernel.shadow.wrote(this.location(slot), word, this.name);
  }

  readPage(folio: Folio): number {
    this.#slot(folio, 'readPage');
    return pageContent(this.kernel.mem, folio);
  }

  movePage(dst: Folio, src: Folio): void {
    const slot = this.#slot(src, 'movePage');
    const mem = this.kernel.mem;
    folioCopyContents(mem, dst, src);
    folioGet(mem, dst); // the driver's reference on the new page
    setPageMovable(mem, dst, this.mops);
    this.#slotOf.delete(src);
    this.#slotOf.set(dst, slot);
    this.#slots[slot] = dst;
    // folio-6.3: `__ClearPageMovable(src)`; page-type-2025: src keeps its type and
    // PG_movable_ops until it is freed (the last put below, once the core drops its own).
    if (!this.#pageType) clearPageMovable(mem, src);
    folioPut(mem, src); // and off the old one
  }

  /** Whether the machine's variant follows the 2025 movable_ops protocol. */
  get #pageType(): boolean {
    return this.kernel.variant.movableProtocol === 'page-type-2025';
  }

  freePage(folio: Folio): void {
    const slot = this.#slot(folio, 'freePage');
    const mem = this.kernel.mem;
    this.kernel.shadow.forget(this.location(slot));
    this.#slotOf.delete(folio);
    this.#slots[slot] = -1;
    if (!this.#pageType) clearPageMovable(mem, folio);
    folioPut(mem, folio);
  }

  get pages(): readonly Folio[] {
    const out: Folio[] = [];
    for (const folio of this.#slots) if (folio >= 0) out.push(folio);
    return out;
  }
}

/**
 * Declares a driver of non-LRU movable pages. `attach(kernel)` builds its state on one
 * machine and hands the migration core its `movable_operations`, which call the spec's
 * callbacks with the state and the host.
 *
 * ```ts
 * const ring = defineDriver({
 *   name: 'ring',
 *   setup: () => ({}),
 *   isolatePage: () => true,
 *   migratePage(_s, dst, src, _mode, host) {
 *     host.movePage(dst, src);
 *     return MIGRATEPAGE_SUCCESS;
 *   },
 *   putbackPage() {},
 *   populate(_s, host, nid, count) {
 *     for (let i = 0; i < count; i++) host.allocPage(nid, 100 + i);
 *   },
 * });
 * const attached = ring.attach(kernel);
 * ```
 */
export function defineDriver<S>(spec: DriverSpec<S>): DriverDefinition<S> {
  checkSpec(spec);
  return {
    spec,
    attach(k: Kernel, options: AttachOptions = {}): AttachedDriver<S> {
      const name = options.name ?? spec.name;
      if (typeof name !== 'string' || name.length === 0) {
        throw new MmsimError(
          'INVALID_ARGUMENT',
          `driver ${spec.name}: attach: name must be a non-empty string`,
        );
      }
      const host = new Host(k, name);
      const stopOnDriverError = options.stopOnDriverError === true;
      // The state exists before any callback runs: `setup` may allocate pages, which needs
      // the operations, which need the state; so the operations read it from this cell.
      const cell: { state: S | undefined } = { state: undefined };
      const mops: MovableOperations = {
        name,
        stopOnDriverError,
        isolatePage: (folio, mode) => spec.isolatePage(cell.state as S, folio, mode, host),
        migratePage: (dst, src, mode) => spec.migratePage(cell.state as S, dst, src, mode, host),
        putbackPage: (folio) => spec.putbackPage(cell.state as S, folio, host),
      };
      host.mops = mops;
      const state = spec.setup(host);
      cell.state = state;
      return {
        host,
        state,
        mops,
        stopOnDriverError,
        populate(nid: number, count: number): void {
          if (!Number.isInteger(count) || count < 0) {
            throw new MmsimError(
              'INVALID_ARGUMENT',
              `driver ${spec.name}: populate: count must be a non-negative integer, got ${String(count)}`,
            );
          }
          spec.populate(state, host, nid, count);
        },
        actor(operation: string, actorOptions: DriverActorOptions): Actor {
          const op = spec.operations?.[operation];
          if (op === undefined) {
            const known = Object.keys(spec.operations ?? {});
            throw new MmsimError(
              'INVALID_ARGUMENT',
              `driver ${spec.name} has no operation ${operation}` +
                (known.length > 0 ? ` (it has ${known.join(', ')})` : ' (it has none)'),
            );
          }
          const arg = actorOptions.arg ?? 1;
          return {
            name: actorOptions.name ?? `${spec.name}-${operation}`,
            cpu: actorOptions.cpu,
            models: `${spec.name} ${operation}`,
            *body(): KernelGen {
              yield* op(state, host, arg);
            },
          };
        },
        location: (slot) => host.location(slot),
      };
    },
  };
}
