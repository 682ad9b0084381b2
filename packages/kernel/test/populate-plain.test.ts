import {
  type Folio,
  folioAlloc,
  folioAttachPrivate,
  folioRefCount,
  folioSetFlag,
  PG_uptodate,
  setPageContent,
} from '@mmsim/folio';
import { lruUncontended } from '@mmsim/lru/internal';
import { countingFolioPuts } from '@mmsim/lru/test';
import { BH_Mapped, BH_Uptodate } from '@mmsim/page-lock';
import type { AddressSpaceView } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createKernel,
  type Kernel,
  type PopulateOptions,
  pageCacheAllocLocked,
  pageCacheLookup,
  populateFile,
} from '../src/index.js';

/**
 * `populateFile` as it was before its plain calls (kernel setup.ts and page-cache.ts at
 * 8fed093): `filemap_alloc_folio` + `filemap_add_folio` through the rmap's generator, the
 * allocation reference dropped through the LRU's `folioPut` generator, each word recorded
 * with `wrote` of a location. The reference the plain calls are compared with.
 */
function* referencePopulate(
  k: Kernel,
  file: AddressSpaceView,
  indices: readonly number[],
  options: PopulateOptions = {},
): KernelGen<Folio[]> {
  const out: Folio[] = [];
  const nr = 1 << (options.order ?? 0);
  for (const index of indices) {
    const first = index - (index % nr);
    let folio = -1;
    let cached = false;
    for (let i = 0; i < nr; i++)
      if (pageCacheLookup(k.mem, file, first + i) !== undefined) cached = true;
    if (!cached) {
      folio = folioAlloc(k.mem, options.order ?? 0, options.nid ?? k.rt.current.cpu.node);
      if (folio >= 0) {
        for (let i = 0; i < nr; i++)
          setPageContent(k.mem, folio + i, file.backing.get(first + i) ?? 0);
        yield* k.vm.filemapAddFolio(file, folio, first);
      }
    }
    if (folio < 0) throw new Error(`no memory to cache ${file.name}[${index}]`);
    folioSetFlag(k.mem, folio, PG_uptodate);
    const buffers = options.buffersPerPage ?? 0;
    if (buffers > 0)
      k.locks.createBuffers(folio, buffers * nr, (1 << BH_Uptodate) | (1 << BH_Mapped));
    else if (options.privateData !== undefined)
      folioAttachPrivate(k.mem, folio, options.privateData);
    k.locks.folioUnlock(folio);
    yield* k.lru.folioPut(folio);
    for (let i = 0; i < nr; i++) {
      k.shadow.wrote(
        { kind: 'file', file, index: first + i },
        file.backing.get(first + i) ?? 0,
        'init',
      );
    }
    out.push(folio);
  }
  return out;
}

type Populate = typeof populateFile;

/**
 * Two tasks populate page caches (order 0, which fills their CPU's lru_add batch, and
 * order 2, which drains it at once; with buffers and private data) while a third drains
 * every CPU's batch remotely and disables the LRU cache, so that a `folio_add_lru` finds
 * the batch's lock held or `lru_lock` taken, and the plain calls hand over to the
 * generators. With `replaceLru` the LRU is a part that counts the puts it sees.
 */
function race(populate: Populate, seed: number, replaceLru: boolean) {
  const lruPuts = { n: 0 };
  const k = createKernel({
    nodes: [{ pages: 512 }],
    cpusPerNode: 3,
    strategy: 'random',
    seed,
    parts: replaceLru ? { lru: (base) => countingFolioPuts(base, lruPuts) } : undefined,
  });
  const handed = { n: 0 };
  const vm = k.vm;
  const plainAdd = vm.filemapAddFolioPlain.bind(vm);
  vm.filemapAddFolioPlain = (file, folio, index) => {
    const r = plainAdd(file, folio, index);
    if (typeof r !== 'number') handed.n++;
    return r;
  };
  const words = (base: number) => Array.from({ length: 64 }, (_, i) => base + i);
  const a = k.createFile('a', { content: words(100) });
  const b = k.createFile('b', { content: words(300) });
  const got: string[] = [];
  const small = Array.from({ length: 24 }, (_, i) => i);
  k.rt.spawn('pop-a', 0, function* (): KernelGen {
    got.push(`a ${yield* populate(k, a, small)}`);
    got.push(`a2 ${yield* populate(k, a, [32, 36, 42], { order: 2, privateData: { fs: 'a' } })}`);
  });
  k.rt.spawn('pop-b', 1, function* (): KernelGen {
    got.push(`b ${yield* populate(k, b, [40, 44], { order: 2, buffersPerPage: 1 })}`);
    got.push(`b0 ${yield* populate(k, b, small, { nid: 0, buffersPerPage: 2 })}`);
  });
  k.rt.spawn('drainer', 2, function* (): KernelGen {
    for (let round = 0; round < 6; round++) {
      yield* k.lru.lruAddDrainAll();
      yield;
      if (round === 2) yield* k.lru.lruCacheDisable();
      if (round === 4) k.lru.lruCacheEnable();
    }
  });
  const r = k.run();
  const cache = (file: AddressSpaceView) =>
    Array.from({ length: 64 }, (_, i) => {
      const folio = pageCacheLookup(k.mem, file, i);
      return folio === undefined ? null : [folio, folioRefCount(k.mem, folio)];
    });
  return {
    outcome: {
      status: r.status,
      steps: r.steps,
      token: r.replayToken,
      clocks: r.cpuClocks,
      vmstat: k.vmstat.entries(),
      got,
      cacheA: cache(a),
      cacheB: cache(b),
      shadow: k.shadow.size,
      verify: k.shadow.verifyAll(),
      lruPuts: lruPuts.n,
    },
    handed: handed.n,
  };
}

describe('populateFile as plain calls', () => {
  afterEach(() => {
    lruUncontended.enabled = true;
  });

  it('gives the generators’ steps, tokens, clocks, vmstat, page cache and shadow, handing over where an LRU add waits', () => {
    let handed = 0;
    for (const plainLru of [true, false]) {
      for (const replaceLru of [false, true]) {
        for (const seed of [1, 2, 3, 4, 5, 6]) {
          lruUncontended.enabled = plainLru;
          const plain = race(populateFile, seed, replaceLru);
          const want = race(referencePopulate, seed, replaceLru).outcome;
          const at = `plain LRU ${plainLru}, replaced LRU ${replaceLru}, seed ${seed}`;
          expect(plain.outcome, at).toEqual(want);
          expect(plain.outcome.status, at).toBe('completed');
          expect(plain.outcome.shadow, at).toBe(2 * 24 + 3 * 4 + 2 * 4);
          // The replaced LRU sees every put (none is taken as a plain call behind its back).
          if (replaceLru) expect(plain.outcome.lruPuts, at).toBeGreaterThan(0);
          handed += plain.handed;
        }
      }
    }
    // Some adds did wait (a held batch lock, the plain LRU calls switched off).
    expect(handed).toBeGreaterThan(0);
  });

  it('pageCacheAllocLocked refuses a range partly cached, as before', () => {
    const k = createKernel({ nodes: [{ pages: 256 }], cpusPerNode: 1 });
    const file = k.createFile('f', { content: [1, 2, 3, 4, 5] });
    const seen: number[] = [];
    k.rt.spawn('t', 0, function* (): KernelGen {
      const [one] = yield* populateFile(k, file, [1]);
      seen.push(one!);
      seen.push(yield* pageCacheAllocLocked(k, file, 2, { order: 2 })); // covers index 1: -1
      seen.push(yield* pageCacheAllocLocked(k, file, 4, { order: 2 }));
    });
    expect(k.run().status).toBe('completed');
    expect(seen[1]).toBe(-1);
    expect(seen[2]).toBeGreaterThanOrEqual(0);
    expect(pageCacheLookup(k.mem, file, 7)).toBe(seen[2]);
  });
});
