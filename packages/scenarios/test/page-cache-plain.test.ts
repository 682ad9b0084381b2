import { explore } from '@mmsim/explore';
import {
  type Folio,
  folioAlloc,
  folioRefCount,
  folioRefFreeze,
  folioRefUnfreeze,
  folioSetFlag,
  nodeFreePages,
  PG_uptodate,
} from '@mmsim/folio';
import {
  type Actor,
  createKernel,
  filemapGetFolioPlain,
  filemapLockFolioPlain,
  folioPutDeclaredPlain,
  folioUnlockPutPlain,
  type Kernel,
  type PageCacheAlloc,
  pageCacheAllocLocked,
  pageCacheDeclaresFootprints,
  pageCacheLookup,
  populateFile,
  type VariantName,
} from '@mmsim/kernel';
import { lruUncontended } from '@mmsim/lru/internal';
import { countingFolioPuts } from '@mmsim/lru/test';
import { MIGRATE_SYNC, MIGRATE_SYNC_LIGHT, MR_COMPACTION, MR_SYSCALL } from '@mmsim/migrate';
import {
  type AddressSpaceView,
  filemapGetFolio,
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
} from '@mmsim/rmap';
import { Completion, FP_FOLIO, FP_MAPPING, type KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import {
  builtinScenario,
  mappedFolios,
  migrator,
  nodeScan,
  runScenario,
  type Scenario,
  scenarioTarget,
} from '../src/index.js';

/**
 * The page-cache helpers as they were before their plain paths (kernel page-cache.ts at
 * 6e0454e): `__filemap_get_folio(FGP_LOCK [| FGP_CREAT])` and `folio_unlock` + `folio_put`
 * as generators all the way, over rmap's `filemapGetFolio` generator and the LRU's
 * `folioPut`. The reference the plain paths are compared with.
 */
function* referenceLockFolio(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  caller: string,
  create: PageCacheAlloc | null,
): KernelGen<Folio> {
  const mem = k.mem;
  for (;;) {
    const folio = yield* filemapGetFolio(mem, file, index, k.rt);
    if (folio < 0) {
      if (create === null) return -1;
      const depth = k.rt.suspendDeclaredScope();
      const fresh = yield* pageCacheAllocLocked(k, file, index, create);
      k.rt.resumeDeclaredScope(depth);
      if (fresh >= 0) {
        folioSetFlag(mem, fresh, PG_uptodate);
        return fresh;
      }
      if (pageCacheLookup(mem, file, index) === undefined) return -1;
      continue;
    }
    if (!k.locks.folioLockFast(folio, caller)) yield* k.locks.folioLockContended(folio, caller);
    k.rt.touchKernel(FP_MAPPING, file.id, false);
    if (pageCacheLookup(mem, file, index) === folio) return folio;
    yield* referenceUnlockPut(k, folio);
  }
}

function* referencePutDeclared(k: Kernel, folio: Folio): KernelGen {
  const rt = k.rt;
  if (folioRefCount(k.mem, folio) > 1) {
    rt.touchKernel(FP_FOLIO, folio, true);
    yield* k.lru.folioPut(folio);
    return;
  }
  const depth = rt.suspendDeclaredScope();
  yield* k.lru.folioPut(folio);
  rt.resumeDeclaredScope(depth);
}

function* referenceUnlockPut(k: Kernel, folio: Folio): KernelGen {
  k.locks.folioUnlock(folio);
  yield* referencePutDeclared(k, folio);
}

/** How the test actors reach the page cache, and how often a plain call handed over. */
interface PageCacheCalls {
  lock(
    k: Kernel,
    file: AddressSpaceView,
    index: number,
    create: PageCacheAlloc | null,
  ): KernelGen<Folio>;
  get(k: Kernel, file: AddressSpaceView, index: number): KernelGen<Folio>;
  unlockPut(k: Kernel, folio: Folio): KernelGen;
  putDeclared(k: Kernel, folio: Folio): KernelGen;
  readonly handedOver: { lock: number; get: number; put: number };
}

function plainCalls(): PageCacheCalls {
  const handedOver = { lock: 0, get: 0, put: 0 };
  return {
    handedOver,
    *lock(k, file, index, create) {
      const got = filemapLockFolioPlain(k, file, index, 'lock_delalloc_pages', create);
      if (typeof got === 'number') return got;
      handedOver.lock++;
      return yield* got;
    },
    *get(k, file, index) {
      const got = filemapGetFolioPlain(k, file, index);
      if (typeof got === 'number') return got;
      handedOver.get++;
      return yield* got;
    },
    *unlockPut(k, folio) {
      const rest = folioUnlockPutPlain(k, folio);
      if (rest === null) return;
      handedOver.put++;
      yield* rest;
    },
    *putDeclared(k, folio) {
      const rest = folioPutDeclaredPlain(k, folio);
      if (rest === null) return;
      handedOver.put++;
      yield* rest;
    },
  };
}

function referenceCalls(): PageCacheCalls {
  return {
    handedOver: { lock: 0, get: 0, put: 0 },
    lock: (k, file, index, create) =>
      referenceLockFolio(k, file, index, 'lock_delalloc_pages', create),
    get: (k, file, index) => filemapGetFolio(k.mem, file, index, k.rt),
    unlockPut: referenceUnlockPut,
    putDeclared: referencePutDeclared,
  };
}

const PAGES = 3;

/** Set-up: read each mapped page once (the page cache faults in). */
function* readPages(k: Kernel, mm: MmView, addr: number): KernelGen {
  for (let i = 0; i < PAGES; i++) yield* k.vm.userRead(mm, addr + i * PAGE_SIZE);
}

/**
 * Two range lockers and a reader with references on the page cache of a shared file
 * mapping, while move_pages(2) migrates the mapped folios (frozen and replaced folios: the
 * lookups retry, locked folios found stale) and compaction migrates whatever is on node
 * 0 (the folios the first locker creates past the mapped pages too, and the lru_add
 * drains). The lockers contend on the same folios, so the plain calls hand over to the
 * generators at every kind of point.
 */
function pageCacheRace(calls: PageCacheCalls, log: string[], variant: VariantName): Scenario {
  return {
    name: 'page-cache-race',
    title: 'page-cache lookups and locks under migration',
    description: 'test',
    sources: [],
    config: {
      nodes: [{ pages: 256 }, { pages: 256 }],
      cpusPerNode: 3,
      variant,
      dependencyChecking: true,
    },
    build(k) {
      const file = k.createFile('data', {
        content: Array.from({ length: PAGES + 2 }, (_, i) => 500 + i),
      });
      const mm = k.createProcess('app');
      const addr = k.vm.mmap(mm, { length: PAGES * PAGE_SIZE, flags: MAP_SHARED, file });
      const declares = pageCacheDeclaresFootprints(k);
      const locker = (name: string, cpu: number, first: number, create: boolean): Actor => ({
        name,
        cpu,
        declaresFootprints: declares,
        models: 'lock_delalloc_pages',
        *body(): KernelGen {
          for (let round = 0; round < 4; round++) {
            const held: Folio[] = [];
            const last = create ? PAGES + (round % 2) : PAGES - 1;
            for (let i = first; i <= last; i++) {
              const folio = yield* calls.lock(k, file, i, create ? {} : null);
              log.push(`${name} lock ${i}: ${folio}`);
              if (folio >= 0) held.push(folio);
              yield;
            }
            yield;
            for (let i = held.length - 1; i >= 0; i--) yield* calls.unlockPut(k, held[i]!);
            yield;
          }
        },
      });
      const reader: Actor = {
        name: 'reader',
        cpu: 5,
        declaresFootprints: declares,
        models: '__find_get_block',
        *body(): KernelGen {
          for (let round = 0; round < 3; round++) {
            for (let i = PAGES + 1; i >= 0; i--) {
              const folio = yield* calls.get(k, file, i);
              log.push(`reader get ${i}: ${folio}`);
              if (folio < 0) continue;
              yield;
              yield* calls.putDeclared(k, folio);
            }
          }
        },
      };
      return {
        setup: () => readPages(k, mm, addr),
        actors: [
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 3,
            select: mappedFolios(k, mm, addr, PAGES, 'descending'),
          }),
          migrator(k, {
            name: 'kcompactd0',
            cpu: 4,
            mode: MIGRATE_SYNC_LIGHT,
            reason: MR_COMPACTION,
            rounds: 2,
            style: 'compaction',
            select: nodeScan(k, (_round, target) => 1 - target),
          }),
          locker('lock-a', 1, 0, true),
          locker('lock-b', 2, 1, false),
          reader,
        ],
      };
    },
  };
}

function outcome(scenario: Scenario, seed: number, log: readonly string[]) {
  const r = runScenario(scenario, { strategy: 'random', seed, checkSteps: true });
  const file = r.kernel.files.find((f) => f.name === 'data');
  return {
    error: r.error?.message ?? null,
    status: r.result?.status,
    steps: r.result?.steps,
    token: r.result?.replayToken,
    clocks: r.result?.cpuClocks,
    violations: r.violations.map((v) => v.message),
    inversions: r.inversions.length,
    vmstat: r.kernel.vmstat.entries(),
    cache:
      file === undefined
        ? null
        : Array.from({ length: PAGES + 2 }, (_, i) => {
            const folio = pageCacheLookup(r.kernel.mem, file, i);
            return folio === undefined ? null : [folio, folioRefCount(r.kernel.mem, folio)];
          }),
    log: [...log],
  };
}

describe('page-cache lookups, locks and puts as plain calls', () => {
  afterEach(() => {
    lruUncontended.enabled = true;
  });

  it('give the generators’ results, steps, tokens, clocks, vmstat and page cache, handing over where they wait', () => {
    const total = { lock: 0, get: 0, put: 0 };
    for (const variant of ['v6.3', 'rfc-2022'] as const) {
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const plainLog: string[] = [];
        const plain = plainCalls();
        const got = outcome(pageCacheRace(plain, plainLog, variant), seed, plainLog);
        const refLog: string[] = [];
        const want = outcome(pageCacheRace(referenceCalls(), refLog, variant), seed, refLog);
        expect(got, `${variant} seed ${seed}`).toEqual(want);
        expect(got.error).toBeNull();
        expect(got.log.length).toBeGreaterThan(10);
        total.lock += plain.handedOver.lock;
        total.get += plain.handedOver.get;
        total.put += plain.handedOver.put;
      }
    }
    // Contended and stale locks, and pages created, did go to the generators (the frozen
    // folio and the last put: the next test).
    expect(total.lock).toBeGreaterThan(0);
  });

  it('explored with DPOR, the plain calls declare the footprints of the generators', () => {
    for (const variant of ['v6.3', 'rfc-2022'] as const) {
      const run = (calls: PageCacheCalls) => {
        const { elapsedMs, schedulesPerSecond, ...rest } = explore(
          scenarioTarget(pageCacheRace(calls, [], variant)),
          { strategy: { kind: 'dpor', preemptionBound: 1 }, schedules: 150, shrink: false },
        );
        return rest;
      };
      const got = run(plainCalls());
      expect(got, variant).toEqual(run(referenceCalls()));
      expect(got.executions).toBeGreaterThan(20);
    }
  });

  it('a frozen folio, a last put and a replaced LRU hand over to the generators with the same outcome', () => {
    const handed = { lock: 0, get: 0, put: 0 };
    for (const replaceLru of [false, true]) {
      for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
        const plain = plainCalls();
        const got = frozenLookups(plain, replaceLru, seed);
        const want = frozenLookups(referenceCalls(), replaceLru, seed);
        expect(got, `replaced LRU ${replaceLru}, seed ${seed}`).toEqual(want);
        expect(got.status).toBe('completed');
        // The replaced LRU sees every put (none is taken as a plain call behind its back).
        if (replaceLru) expect(got.lruPuts).toBeGreaterThan(0);
        handed.lock += plain.handedOver.lock;
        handed.get += plain.handedOver.get;
        handed.put += plain.handedOver.put;
      }
    }
    expect(handed.get).toBeGreaterThan(0);
    expect(handed.lock).toBeGreaterThan(0);
    expect(handed.put).toBeGreaterThan(0);
  });

  it('lru_cache_disable and the compaction drain as plain calls give the general path’s runs', () => {
    for (const name of ['rfc-lock-order', 'loop-bh-deadlock', 'loop-writeback-deadlock']) {
      for (const seed of [1, 2, 3]) {
        lruUncontended.enabled = true;
        const drainsBefore = lruUncontended.drains;
        const got = outcome(builtinScenario(name), seed, []);
        expect(lruUncontended.drains, name).toBeGreaterThan(drainsBefore);
        lruUncontended.enabled = false;
        const want = outcome(builtinScenario(name), seed, []);
        expect(got, `${name} seed ${seed}`).toEqual(want);
        expect(got.error).toBeNull();
      }
    }
  });
});

/**
 * A task that freezes a cached folio's count across scheduling points (as a migration
 * between `folio_ref_freeze` and the unfreeze would if it could be interleaved there) while
 * another looks it up, locks it, creates a page next to it, and ends with the last put of a
 * folio of its own. With `replaceLru`, the LRU is a part that counts the puts it sees.
 */
function frozenLookups(calls: PageCacheCalls, replaceLru: boolean, seed: number) {
  const lruPuts = { n: 0 };
  const k = createKernel({
    nodes: [{ pages: 256 }],
    cpusPerNode: 2,
    strategy: 'random',
    seed,
    parts: replaceLru ? { lru: (base) => countingFolioPuts(base, lruPuts) } : undefined,
  });
  const file = k.createFile('f', { content: [11, 12, 13] });
  const ready = new Completion(k.rt, 'ready');
  const log: string[] = [];
  k.rt.spawn('freezer', 0, function* (): KernelGen {
    const [folio] = yield* populateFile(k, file, [0]);
    yield* k.lru.lruAddDrain(); // on its LRU list: no batch reference to drop while frozen
    const refs = folioRefCount(k.mem, folio!); // the cache's and the LRU's: nobody else's
    ready.complete();
    for (let round = 0; round < 3; round++) {
      // As folio_ref_freeze(folio, expected): only while nobody else holds a reference.
      if (folioRefFreeze(k.mem, folio!, refs)) {
        for (let i = 0; i < 3; i++) yield;
        folioRefUnfreeze(k.mem, folio!, refs);
      }
      yield;
    }
  });
  k.rt.spawn('looker', 1, function* (): KernelGen {
    yield* ready.wait();
    for (let round = 0; round < 4; round++) {
      const got = yield* calls.get(k, file, 0);
      log.push(`get: ${got}`);
      if (got >= 0) yield* calls.putDeclared(k, got);
      const locked = yield* calls.lock(k, file, round % 2 === 0 ? 0 : 1 + round, {});
      log.push(`lock: ${locked}`);
      yield;
      if (locked >= 0) yield* calls.unlockPut(k, locked);
    }
    const own = folioAlloc(k.mem, 0, 0);
    log.push(`own: ${own}`);
    yield* calls.putDeclared(k, own); // the last reference: the folio is freed
  });
  const r = k.run();
  return {
    status: r.status,
    steps: r.steps,
    token: r.replayToken,
    clocks: r.cpuClocks,
    vmstat: k.vmstat.entries(),
    cache: Array.from({ length: 6 }, (_, i) => pageCacheLookup(k.mem, file, i) ?? null),
    free: nodeFreePages(k.mem, 0),
    lruPuts: lruPuts.n,
    log,
  };
}
