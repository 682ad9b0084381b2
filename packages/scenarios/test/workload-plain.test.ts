import { type Folio, folioAlloc, folioPut, pfnFolio } from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { userFaultPlainPath } from '@mmsim/rmap/internal';
import type { KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { mappedFolios, runScenario, type Scenario } from '../src/index.js';
import { firstTouchesUnderMigration } from './first-touch-scenario.js';

/**
 * Three threads first-touching 48 untouched pages (so the lru_add batches of their CPUs
 * fill and move), a migrator moving what is mapped, and a task that keeps taking node 0's
 * and node 1's `lru_lock` and holding it across scheduling points: first touches whose
 * LRU add must move a batch while `lru_lock` is held cannot run as plain calls.
 */
function lruContended(): Scenario {
  return firstTouchesUnderMigration({
    name: 'lru-contended-first-touch',
    title: 'first touches while lru_lock is held',
    pages: 48,
    rounds: 2,
    cpus: [1, 2],
    pattern: () => 'sequential',
    writeRatio: (cpu) => (cpu === 1 ? 1 : 0.6),
    others: (k) => [
      {
        name: 'holder',
        cpu: 3,
        models: 'a task holding lru_lock',
        *body(): KernelGen {
          for (let n = 0; n < 60; n++) {
            const lock = k.lruVecs.lruLock(n % 2);
            yield* lock.lock();
            yield;
            yield;
            lock.unlock();
          }
        },
      },
    ],
  });
}

function outcome(scenario: Scenario, seed: number, plain: boolean) {
  userFaultPlainPath.enabled = plain;
  const r = runScenario(scenario, { strategy: 'random', seed, checkSteps: true });
  const view = r.kernel.lruView;
  return {
    error: r.error?.message ?? null,
    status: r.result?.status,
    steps: r.result?.steps,
    token: r.result?.replayToken,
    clocks: r.result?.cpuClocks,
    violations: r.violations.map((v) => v.message),
    vmstat: r.kernel.vmstat.entries(),
    lists: [0, 1].map((nid) => Array.from({ length: 5 }, (_, l) => view.listFolios(nid, l))),
    batches: [0, 1, 2, 3].map((cpu) => view.batchFolios(cpu)),
  };
}

/** The walk `mappedFolios` had: a generator and a set of the folios seen. */
function* referenceWalk(
  k: Kernel,
  mm: MmView,
  addr: number,
  pages: number,
  order: 'ascending' | 'descending',
): Generator<Folio | null> {
  const seen = new Set<Folio>();
  for (let n = 0; n < pages; n++) {
    const i = order === 'ascending' ? n : pages - 1 - n;
    if (!mm.alive) return;
    const pfn = k.vm.presentPfnAt(mm, addr + i * PAGE_SIZE);
    if (pfn < 0 || pfn === k.mem.zeroPfn) {
      yield null;
      continue;
    }
    const folio = pfnFolio(k.mem, pfn);
    if (folio < 0 || seen.has(folio)) continue;
    seen.add(folio);
    yield folio;
  }
}

describe('the workload side as plain calls', () => {
  afterEach(() => {
    userFaultPlainPath.enabled = true;
  });

  it('first touches with lru_lock held give the steps, clocks, vmstat and LRU of the generators', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const plain = outcome(lruContended(), seed, true);
      const general = outcome(lruContended(), seed, false);
      expect(plain, `seed ${seed}`).toEqual(general);
      expect(plain.error).toBeNull();
      expect(plain.status).toBe('completed');
      expect(plain.violations).toEqual([]);
    }
  });

  // 64 pages: the walks keep epoch stamps by pfn; 8 pages: a list of the walk's folios.
  it.each([64, 8])(
    'mappedFolios of %i pages yields what a walk with a set of seen folios yields, walks interleaved or abandoned included',
    (pages) => {
      const k = createKernel({ nodes: [{ pages: 512 }, { pages: 512 }] });
      const mm = k.createProcess('p');
      const addr = 0x4000_0000;
      // Each address maps a random choice: nothing, the zero page, a small folio (also
      // mapped at other addresses), or a page of one of two large folios.
      const small = [0, 1, 2, 3].map(() => folioAlloc(k.mem, 0, 0));
      const large = [folioAlloc(k.mem, 2, 0), folioAlloc(k.mem, 3, 1)];
      let state = 12345;
      const rand = (n: number) => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        return state % n;
      };
      let map: number[] = [];
      const shuffle = () => {
        map = Array.from({ length: pages }, () => {
          switch (rand(5)) {
            case 0:
              return -1;
            case 1:
              return k.mem.zeroPfn;
            case 2:
              return small[rand(small.length)]!;
            default: {
              const head = large[rand(2)]!;
              return head + rand(head === large[0] ? 4 : 8);
            }
          }
        });
      };
      k.vm.presentPfnAt = (_mm, at) => map[(at - addr) / PAGE_SIZE] ?? -1;
      for (const order of ['ascending', 'descending'] as const) {
        const select = mappedFolios(k, mm, addr, pages, order);
        for (let round = 0; round < 20; round++) {
          shuffle();
          const want = [...referenceWalk(k, mm, addr, pages, order)];
          expect([...select(round, 1)], `${order} round ${round}`).toEqual(want);
          expect(want.filter((f) => f !== null).length).toBeGreaterThan(0);
          // Two walks of the same selector at once: the second keeps a set of its own.
          const a = select(round, 1)[Symbol.iterator]();
          const b = select(round, 1)[Symbol.iterator]();
          const gotA: (Folio | null)[] = [];
          const gotB: (Folio | null)[] = [];
          for (;;) {
            const ra = a.next();
            const rb = b.next();
            if (ra.done !== true) gotA.push(ra.value);
            if (rb.done !== true) gotB.push(rb.value);
            if (ra.done === true && rb.done === true) break;
          }
          expect(gotA).toEqual(want);
          expect(gotB).toEqual(want);
          // A walk broken off by for...of (return()): the stamps are free again.
          for (const _ of select(round, 1)) break;
          expect([...select(round, 1)]).toEqual(want);
          // A walk left half-way (no return()) on another selector: the walks after it
          // (which keep sets of their own) are still exact.
          const other = mappedFolios(k, mm, addr, pages, order);
          const left = other(round, 1)[Symbol.iterator]();
          for (let i = 0; i < 5; i++) left.next();
          expect([...other(round, 1)]).toEqual(want);
          expect([...other(round, 1)]).toEqual(want);
        }
      }
      for (const f of [...small, ...large]) folioPut(k.mem, f);
    },
  );
});
