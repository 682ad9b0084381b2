import { folioMapcount } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { MADV_DONTNEED, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE } from '../src/index.js';
import { mutableMm, type PageTable, pmdIndexOf, userFaultPlainPath } from '../src/internal.js';
import { createRmapMachine as machine } from '../src/testing/index.js';
import { type AccessHow, spawnAccessorsAndMigrator, userAccessors } from './helpers.js';

const PAGES = 6;
const LRU_LISTS = 5;

/**
 * Faults on a file mapping (`do_fault`: read faults, shared write faults, COW faults of a
 * private mapping of the same file) through `how`: the generators (`userRead` /
 * `userWrite` with the plain fault path off, as before `doFaultPlain`) or
 * `userReadPlain` / `userWritePlain`, whose generator, when one is returned, runs at once.
 * Around them, on random schedules: a migrator moving what the shared mapping maps
 * (migration entries, folio locks held by the migration); an evictor that locks cached
 * folios after unmapping them (MADV_DONTNEED), holds them across scheduling points and then drops them from the
 * page cache (so `filemap_fault` sleeps on the folio lock, finds the folio gone after it,
 * puts its reference, possibly the last one, and misses); a holder of the shared
 * mapping's PTE lock and of node 0's `lru_lock` (so `finish_fault` and the LRU add of a
 * miss contend).
 */
function run(how: AccessHow, seed: number) {
  userFaultPlainPath.enabled = how === 'plain';
  const m = machine({ strategy: 'random', seed, lru: true });
  const { vm, rt, mem } = m;
  const lru = m.lru!;
  const file = vm.createFile('data', {
    content: Array.from({ length: PAGES }, (_, i) => 100 + i),
  });
  const p = vm.createProcess();
  const shared = vm.mmap(p, { length: PAGES * PAGE_SIZE, flags: MAP_SHARED, file });
  const priv = vm.mmap(p, { length: PAGES * PAGE_SIZE, flags: MAP_PRIVATE, file });
  const seen: number[] = [];
  const { counts, load, store } = userAccessors(vm, p, how);
  spawnAccessorsAndMigrator(m, p, shared, PAGES, 80, load, store, seen);
  rt.spawn('private', 0, function* (): KernelGen {
    for (let n = 0; n < 80; n++) {
      const at = priv + ((n * 5) % PAGES) * PAGE_SIZE;
      if (n % 4 === 3) yield* store(at, 7000 + n);
      else seen.push(yield* load(at));
      yield;
    }
  });
  rt.spawn('evictor', 3, function* (): KernelGen {
    let drops = 0;
    for (let n = 0; n < 400 && drops < 6; n++) {
      // Pages 1 and 5: the private mapping's (the shared accessors touch 0, 2, 3 and 4).
      const index = n % 2 === 0 ? 1 : 5;
      const folio = file.lookup(index);
      yield;
      if (folio === undefined) continue;
      // Unmap it from both mappings first (the private accessor may map it again).
      yield* vm.madvise(p, shared + index * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED);
      yield* vm.madvise(p, priv + index * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED);
      if (file.lookup(index) !== folio || folioMapcount(mem, folio) !== 0) continue;
      if (!m.locks.folioTrylock(folio, 'evictor')) continue;
      yield;
      yield;
      // Still cached and unmapped under the lock: drop it, as truncation would.
      const drop = file.lookup(index) === folio && folioMapcount(mem, folio) === 0;
      if (drop) {
        vm.filemapRemoveFolio(file, folio);
        drops++;
      }
      m.locks.folioUnlock(folio);
      if (drop) yield* lru.folioPut(folio);
    }
  });
  rt.spawn('holder', 0, function* (): KernelGen {
    for (let n = 0; n < 60; n++) {
      const table = mutableMm(p).pageTables.get(pmdIndexOf(shared)) as PageTable | undefined;
      const lock = table === undefined || n % 3 === 0 ? lru.lruLock(0) : table.ptl;
      yield* lock.lock();
      yield;
      yield;
      lock.unlock();
    }
  });
  const result = rt.run();
  const s = vm.tlbStats;
  const at = (base: number) =>
    Array.from({ length: PAGES }, (_, i) => vm.presentPfnAt(p, base + i * PAGE_SIZE));
  return {
    outcome: {
      status: result.status,
      steps: result.steps,
      token: result.replayToken,
      clocks: rt.cpus.map((c) => c.clock),
      tlb: [s.tlbHits, s.tlbMisses, s.shootdowns, s.ipisSent, s.localFlushOne],
      seen,
      vmstat: m.vmstat.entries(),
      shared: at(shared),
      private: at(priv),
      cache: Array.from({ length: PAGES }, (_, i) => file.lookup(i) ?? -1),
      lists: [0, 1].map((nid) =>
        Array.from({ length: LRU_LISTS }, (_, l) => lru.view.listFolios(nid, l)),
      ),
      batches: rt.cpus.map((c) => lru.view.batchFolios(c.id)),
      problems: [...vm.check(), ...lru.view.check()],
    },
    counts,
  };
}

describe('file faults as plain calls (doFaultPlain, filemapFaultPlain)', () => {
  afterEach(() => {
    userFaultPlainPath.enabled = true;
  });

  it('give the generators’ values, steps, tokens, clocks, vmstat, page cache and LRU, contended or not', () => {
    const counts = { plain: 0, generator: 0 };
    let major = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const general = run('generator', seed);
      const plain = run('plain', seed);
      expect(general.outcome.status, `seed ${seed}`).toBe('completed');
      expect(general.outcome.problems).toEqual([]);
      expect(plain.outcome, `seed ${seed}`).toEqual(general.outcome);
      counts.plain += plain.counts.plain;
      counts.generator += plain.counts.generator;
      major += general.outcome.vmstat.find(([name]) => name === 'pgmajfault')?.[1] ?? 0;
    }
    // Both halves ran, and pages were dropped and faulted in again (more major faults
    // than the file has pages).
    expect(counts.plain).toBeGreaterThan(0);
    expect(counts.generator).toBeGreaterThan(0);
    expect(major).toBeGreaterThan(10 * PAGES);
  });
});
