import type { AttachedDriver, DriverHost, DriverSpec } from '@mmsim/driver';
import {
  type Folio,
  folioMapcount,
  folioRefCount,
  folioTestFlag,
  PG_isolated,
  PG_locked,
  pageContent,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import {
  folioMovableOps,
  MIGRATEPAGE_SUCCESS,
  type MigrateMode,
  type MovableOperations,
} from '@mmsim/migrate';
import { EAGAIN, EBUSY, type FaultPoint, type KernelGen } from '@mmsim/runtime';
import type { DriverCheckName } from './checks.js';
import { DriverLockWatch } from './lock-order.js';

/** The kit's fault sites, registered on every machine it builds. */
export const KIT_FAULTS = {
  eagain: 'driver-kit.migrate_page_eagain',
  ebusy: 'driver-kit.migrate_page_ebusy',
} as const;

/** How often the core called the driver, summed over the runs that share the object. */
export interface KitCalls {
  /** isolate_page calls, and how many said yes. */
  isolatePage: number;
  isolated: number;
  /** migrate_page calls (injected failures included), and how many succeeded. */
  migratePage: number;
  migrated: number;
  putbackPage: number;
}

/** Zeroed `KitCalls`. */
export function kitCalls(): KitCalls {
  return { isolatePage: 0, isolated: 0, migratePage: 0, migrated: 0, putbackPage: 0 };
}

/** One protocol violation the instrumentation saw. */
export interface KitViolation {
  readonly check: DriverCheckName;
  readonly message: string;
}

function hex(folio: Folio): string {
  return `0x${folio.toString(16)}`;
}

/**
 * One instrumented run of a driver: the host the driver's code gets (the SDK's, with every
 * page use checked), the callbacks wrapped with before/after checks, the driver's own locks
 * watched for their order against the page lock, and the end-of-run checks. Nothing of it
 * is on the migration core's path when the kit is not used: it wraps the driver's spec.
 */
export class KitRun<S = unknown> {
  readonly k: Kernel;
  readonly spec: DriverSpec<S>;
  /** Every violation, in the order seen. */
  readonly violations: KitViolation[] = [];
  readonly #first = new Map<DriverCheckName, string>();
  /** Set by `bind` once the SDK attached the instrumented driver. */
  attached: AttachedDriver<S> | null = null;
  #real: DriverHost | null = null;
  /** The host the driver's code sees. */
  readonly host: DriverHost;
  /** How each page the driver let go left it, for use-after messages. */
  readonly #released = new Map<Folio, string>();
  /** Pages allocated and given back through the host. */
  #allocated = 0;
  #freed = 0;
  readonly #eagain: FaultPoint;
  readonly #ebusy: FaultPoint;
  readonly locks: DriverLockWatch;

  readonly calls: KitCalls;

  constructor(k: Kernel, spec: DriverSpec<S>, calls: KitCalls = kitCalls()) {
    this.k = k;
    this.spec = spec;
    this.calls = calls;
    this.#eagain = k.rt.faults.register(
      KIT_FAULTS.eagain,
      "the driver's migrate_page is made to return -EAGAIN (the core retries, then puts back)",
    );
    this.#ebusy = k.rt.faults.register(
      KIT_FAULTS.ebusy,
      "the driver's migrate_page is made to return -EBUSY (a permanent failure: putback)",
    );
    this.locks = new DriverLockWatch(k, spec.name);
    this.host = this.#makeHost();
  }

  /** The first violation of `check`, or null. */
  firstOf(check: DriverCheckName): string | null {
    return this.#first.get(check) ?? null;
  }

  violate(check: DriverCheckName, message: string): void {
    this.violations.push({ check, message });
    if (!this.#first.has(check)) this.#first.set(check, message);
  }

  get #realHost(): DriverHost {
    return this.#real as DriverHost;
  }

  /** Whether the machine follows the 2025 movable_ops protocol (6.17). */
  get #pageType(): boolean {
    return this.k.variant.movableProtocol === 'page-type-2025';
  }

  #listed(folio: Folio): boolean {
    return this.#realHost.pages.includes(folio);
  }

  #mops(): MovableOperations | null {
    return this.attached?.mops ?? null;
  }

  #use(folio: Folio, what: string): void {
    if (this.#real === null || this.#listed(folio)) return;
    const how = this.#released.get(folio);
    this.violate(
      'no-use-after-putback',
      `${this.spec.name}: ${what}(${typeof folio === 'number' ? hex(folio) : String(folio)}) uses a page the driver no longer owns` +
        (how === undefined ? '' : ` (${how})`),
    );
  }

  /**
   * The host the driver's code sees: the SDK's own, with the calls that touch a page
   * checked first. Members the kit does not check (and any the SDK adds later) are the
   * SDK's, reached through a proxy.
   */
  #makeHost(): DriverHost {
    const run = this;
    const checked: Partial<DriverHost> = {
      allocPage(nid, word) {
        const folio = run.#realHost.allocPage(nid, word);
        if (folio !== -1) {
          run.#allocated++;
          run.#released.delete(folio);
        }
        return folio;
      },
      writePage(folio, word) {
        run.#use(folio, 'writePage');
        run.#realHost.writePage(folio, word);
      },
      readPage(folio) {
        run.#use(folio, 'readPage');
        return run.#realHost.readPage(folio);
      },
      movePage(dst, src) {
        run.#use(src, 'movePage');
        run.#realHost.movePage(dst, src);
        run.#released.set(src, 'it was the src of a migration the driver completed with movePage');
        run.#released.delete(dst);
      },
      freePage(folio) {
        run.#use(folio, 'freePage');
        run.#realHost.freePage(folio);
        run.#freed++;
        run.#released.set(folio, 'the driver gave it back with freePage');
      },
    };
    return new Proxy({} as DriverHost, {
      get(_target, prop) {
        const own = (checked as Record<PropertyKey, unknown>)[prop];
        if (own !== undefined) return own;
        const real = run.#realHost;
        const value: unknown = Reflect.get(real, prop, real);
        return typeof value === 'function' ? value.bind(real) : value;
      },
    });
  }

  /** The spec the SDK attaches: the driver's, every callback checked. */
  instrumentedSpec(): DriverSpec<S> {
    const run = this;
    const spec = this.spec;
    const ops = spec.operations;
    const operations =
      ops === undefined
        ? undefined
        : Object.fromEntries(
            Object.entries(ops).map(([name, op]) => [
              name,
              function* (s: S, _host: DriverHost, arg: number): KernelGen<unknown> {
                return yield* op(s, run.host, arg);
              },
            ]),
          );
    return {
      name: spec.name,
      setup(host) {
        run.#real = host;
        const state = spec.setup(run.host);
        run.locks.watch(state);
        return state;
      },
      isolatePage: (s, page, mode) => run.#isolate(s, page, mode),
      migratePage: (s, dst, src, mode) => run.#migrate(s, dst, src, mode),
      putbackPage: (s, page) => run.#putback(s, page),
      populate: (s, _host, nid, count) => spec.populate(s, run.host, nid, count),
      ...(operations === undefined ? {} : { operations }),
    };
  }

  #lockHeld(folio: Folio, callback: string, which: string): void {
    if (!folioTestFlag(this.k.mem, folio, PG_locked)) {
      this.violate(
        'page-locked-during-migrate',
        `${this.spec.name}.${callback} dropped the page lock of ${which} ${hex(folio)}; the core holds it across the callback and unlocks it itself`,
      );
    }
  }

  #isolate(s: S, page: Folio, mode: number): boolean {
    const mem = this.k.mem;
    const name = this.spec.name;
    const wasIsolated = folioTestFlag(mem, page, PG_isolated);
    const refs = folioRefCount(mem, page);
    const freed = this.#freed;
    this.locks.enterCallback();
    let ok: boolean;
    try {
      ok = this.spec.isolatePage(s, page, mode, this.host);
    } finally {
      this.locks.leaveCallback();
    }
    this.calls.isolatePage++;
    if (ok === true) this.calls.isolated++;
    this.#lockHeld(page, 'isolate_page', 'page');
    if (!wasIsolated && folioTestFlag(mem, page, PG_isolated)) {
      this.violate(
        'pg-isolated',
        `${name}.isolate_page set PG_isolated on page ${hex(page)} itself; isolate_movable_page sets it after the callback (WARN_ON_ONCE in 6.3)`,
      );
    }
    const expected = refs - (this.#freed - freed);
    const now = folioRefCount(mem, page);
    if (now !== expected) {
      this.violate(
        'references-balance',
        `${name}.isolate_page changed the reference count of page ${hex(page)} from ${refs} to ${now}; the core takes the isolation reference itself`,
      );
    }
    return ok;
  }

  #migrate(s: S, dst: Folio, src: Folio, mode: MigrateMode): number {
    this.calls.migratePage++;
    if (this.#eagain.fire()) return -EAGAIN;
    if (this.#ebusy.fire()) return -EBUSY;
    const mem = this.k.mem;
    const name = this.spec.name;
    const word = pageContent(mem, src);
    if (!this.#listed(src)) return this.#migrateReleased(s, dst, src, mode);
    const srcRefs = folioRefCount(mem, src);
    const dstRefs = folioRefCount(mem, dst);
    this.locks.enterCallback();
    let rc: number;
    try {
      rc = this.spec.migratePage(s, dst, src, mode, this.host);
    } finally {
      this.locks.leaveCallback();
    }
    if (typeof rc !== 'number' || !Number.isInteger(rc)) return rc; // the SDK reports it
    this.#lockHeld(src, 'migrate_page', 'src');
    this.#lockHeld(dst, 'migrate_page', 'dst');
    if (!folioTestFlag(mem, src, PG_isolated)) {
      this.violate(
        'pg-isolated',
        `${name}.migrate_page cleared PG_isolated of src ${hex(src)}; move_to_new_folio clears it on success, putback_movable_pages after a failure`,
      );
    }
    const mops = this.#mops();
    const srcListed = this.#listed(src);
    const dstListed = this.#listed(dst);
    if (rc === MIGRATEPAGE_SUCCESS) {
      this.calls.migrated++;
      const got = pageContent(mem, dst);
      if (!dstListed || got !== word) {
        this.violate(
          'data-at-dst',
          `${name}.migrate_page returned MIGRATEPAGE_SUCCESS but the data is not at dst ${hex(dst)}: ` +
            (dstListed
              ? `dst holds ${got}, src ${hex(src)} held ${word}`
              : `the driver does not hold dst${srcListed ? ` and still keeps its data at src ${hex(src)}` : ''}`),
        );
      }
      if (mops !== null && folioMovableOps(mem, dst) !== mops) {
        this.violate(
          'dst-movable-src-released',
          `${name}.migrate_page returned MIGRATEPAGE_SUCCESS but dst ${hex(dst)} is not movable with its operations (no __SetPageMovable(dst))`,
        );
      }
      if (this.#pageType) {
        // 6.17 movable_ops: the operations stay with a page until it is freed.
        if (mops !== null && folioMovableOps(mem, src) !== mops) {
          this.violate(
            'dst-movable-src-released',
            `${name}.migrate_page cleared the movable operations of src ${hex(src)}; in the page-type-2025 protocol a page keeps them until it is freed`,
          );
        }
      } else if (folioMovableOps(mem, src) !== null) {
        this.violate(
          'dst-movable-src-released',
          `${name}.migrate_page returned MIGRATEPAGE_SUCCESS but src ${hex(src)} still has its movable operations (no __ClearPageMovable(src))`,
        );
      }
      const srcNow = folioRefCount(mem, src);
      if (srcNow !== srcRefs - 1) {
        this.violate(
          'dst-movable-src-released',
          `${name}.migrate_page returned MIGRATEPAGE_SUCCESS and dropped ${srcRefs - srcNow} reference(s) on src ${hex(src)}, not exactly one (the driver's)`,
        );
      }
      if (dstListed && srcListed) {
        this.violate(
          'no-page-lost-or-duplicated',
          `${name}.migrate_page succeeded but the driver holds both src ${hex(src)} and dst ${hex(dst)}: the page is duplicated`,
        );
      }
      const dstNow = folioRefCount(mem, dst);
      if (dstNow !== dstRefs + 1) {
        this.violate(
          'references-balance',
          `${name}.migrate_page succeeded and dst ${hex(dst)} went from ${dstRefs} to ${dstNow} references; it should gain exactly the driver's one`,
        );
      }
    } else {
      if (!srcListed || (mops !== null && folioMovableOps(mem, src) !== mops)) {
        this.violate(
          'no-page-lost-or-duplicated',
          `${name}.migrate_page failed (${rc}) but src ${hex(src)} is no longer the driver's movable page: the page is lost`,
        );
      }
      if (dstListed || (mops !== null && folioMovableOps(mem, dst) === mops)) {
        this.violate(
          'no-page-lost-or-duplicated',
          `${name}.migrate_page failed (${rc}) but left dst ${hex(dst)} set up as its page: a second copy of src ${hex(src)}`,
        );
      }
      const srcNow = folioRefCount(mem, src);
      const dstNow = folioRefCount(mem, dst);
      if (srcNow !== srcRefs || dstNow !== dstRefs) {
        this.violate(
          'references-balance',
          `${name}.migrate_page failed (${rc}) but changed the references of src ${hex(src)} (${srcRefs} -> ${srcNow}) or dst ${hex(dst)} (${dstRefs} -> ${dstNow})`,
        );
      }
    }
    return rc;
  }

  /**
   * migrate_page of a page the driver already let go while it was isolated. In 6.3 the
   * core never calls it (`__ClearPageMovable` took the operations away); with the 2025
   * protocol the operations stay until the page is freed, so the driver's callback must
   * recognise the page as released and report success without touching it, as zsmalloc
   * does after "mm/zsmalloc: stop using __ClearPageMovable()" (a109262734c5, 6.17). Any use
   * of src is caught by the host; dst must not be set up.
   */
  #migrateReleased(s: S, dst: Folio, src: Folio, mode: MigrateMode): number {
    const mem = this.k.mem;
    this.locks.enterCallback();
    let rc: number;
    try {
      rc = this.spec.migratePage(s, dst, src, mode, this.host);
    } finally {
      this.locks.leaveCallback();
    }
    const mops = this.#mops();
    if (this.#listed(dst) || (mops !== null && folioMovableOps(mem, dst) === mops)) {
      this.violate(
        'no-page-lost-or-duplicated',
        `${this.spec.name}.migrate_page set up dst ${hex(dst)} for src ${hex(src)}, a page the driver had already released: a page that should not exist`,
      );
    }
    return rc;
  }

  #putback(s: S, page: Folio): void {
    const mem = this.k.mem;
    const name = this.spec.name;
    const refs = folioRefCount(mem, page);
    const freed = this.#freed;
    this.locks.enterCallback();
    try {
      this.spec.putbackPage(s, page, this.host);
    } finally {
      this.locks.leaveCallback();
    }
    this.calls.putbackPage++;
    this.#lockHeld(page, 'putback_page', 'page');
    if (!folioTestFlag(mem, page, PG_isolated)) {
      this.violate(
        'pg-isolated',
        `${name}.putback_page cleared PG_isolated of ${hex(page)}; putback_movable_pages clears it after the callback`,
      );
    }
    const expected = refs - (this.#freed - freed);
    const now = folioRefCount(mem, page);
    if (now !== expected) {
      this.violate(
        'references-balance',
        `${name}.putback_page changed the reference count of ${hex(page)} from ${refs} to ${now}; the core drops the isolation reference itself`,
      );
    }
    if (!this.#listed(page)) {
      this.#released.set(page, 'the driver let it go in putback_page');
    }
  }

  /**
   * The end-of-run checks, once migration and the driver's operations are over: null, or
   * the first problem of `check`.
   */
  endCheck(check: DriverCheckName): string | null {
    const first = this.firstOf(check);
    if (first !== null || this.#real === null) return first;
    const mem = this.k.mem;
    const name = this.spec.name;
    const pages = this.#realHost.pages;
    switch (check) {
      case 'pg-isolated': {
        const left = pages.find((p) => folioTestFlag(mem, p, PG_isolated));
        return left === undefined
          ? null
          : `page ${hex(left)} of ${name} is still PG_isolated at the end of the run`;
      }
      case 'references-balance': {
        for (const p of pages) {
          const refs = folioRefCount(mem, p);
          if (refs !== 1 || folioMapcount(mem, p) !== 0) {
            return `page ${hex(p)} of ${name} ends the run with ${refs} reference(s); only the driver's one should be left`;
          }
        }
        return null;
      }
      case 'no-page-lost-or-duplicated': {
        const seen = new Set<Folio>();
        for (const p of pages) {
          if (seen.has(p)) return `${name} lists page ${hex(p)} twice`;
          seen.add(p);
        }
        const expected = this.#allocated - this.#freed;
        if (pages.length !== expected) {
          return `${name} ends with ${pages.length} page(s), but it allocated ${this.#allocated} and gave back ${this.#freed}`;
        }
        const mops = this.#mops();
        for (const p of pages) {
          if (mops !== null && folioMovableOps(mem, p) !== mops) {
            return `page ${hex(p)} of ${name} is no longer movable with its operations: migration has lost it`;
          }
        }
        if (mops !== null) {
          for (let pfn = 0; pfn < mem.maxPfn; pfn++) {
            if (!pfnValid(mem, pfn) || pfnFolio(mem, pfn) !== pfn) continue;
            if (
              !seen.has(pfn) &&
              folioRefCount(mem, pfn) > 0 &&
              folioMovableOps(mem, pfn) === mops
            ) {
              return `frame ${hex(pfn)} carries ${name}'s movable operations but the driver does not hold it: a duplicated page`;
            }
          }
        }
        return null;
      }
      case 'lock-order':
        return this.locks.inversion();
      default:
        return null;
    }
  }
}
