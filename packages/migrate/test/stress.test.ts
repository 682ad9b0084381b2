import { type Folio, folioGet, folioPut, HPAGE_PMD_NR, pageContent } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { MAP_SHARED, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { foliosOf, mapAnon } from '@mmsim/rmap/test';
import type { KernelGen, StrategySpec } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  MR_COMPACTION,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
} from '../src/testing/index.js';

const SMALL = 12;
const FILE_PAGES = 4;
const THP_TOUCHED = 6;
const WRITERS = 3;
const ROUNDS = 4;
const WRITES = 30;

interface Page {
  readonly mm: MmView;
  readonly addr: number;
  /** The last value its (only) writer stored, or the initial value. */
  last: number;
}

/**
 * One run: 3 user tasks on CPUs 1-3 keep writing and reading their own pages (anonymous,
 * a shared file mapping, a THP) while CPU 0 migrates everything back and forth between
 * the nodes, in every mode; one anonymous page carries an extra reference and can never
 * move. Afterwards every page reads its last written value, the unmovable one is still
 * the same frame, and every invariant holds.
 */
function scenario(variant: VariantName, strategy: StrategySpec, seed: number): number {
  const m = buildMachine({ variant, strategy, seed, cpuNodes: [0, 1, 0, 1], nodes: [4096, 4096] });
  const vm = m.vm;
  // Count the faults that found a migration entry and slept on the source folio's lock.
  let waits = 0;
  const wait = m.locks.migrationEntryWaitOnLocked.bind(m.locks);
  m.locks.migrationEntryWaitOnLocked = (folio, ptl, caller) => {
    waits++;
    return wait(folio, ptl, caller);
  };
  const mm = vm.createProcess('app');
  const anon = mapAnon(m, mm, SMALL);
  const file = vm.createFile('data', {
    content: Array.from({ length: FILE_PAGES }, (_, i) => 900 + i),
  });
  const shared = vm.mmap(mm, { length: FILE_PAGES * PAGE_SIZE, flags: MAP_SHARED, file });
  const huge = mapAnon(m, mm, HPAGE_PMD_NR, true);
  const pages: Page[] = [];
  for (let i = 0; i < SMALL; i++) pages.push({ mm, addr: anon + i * PAGE_SIZE, last: 0 });
  for (let i = 0; i < FILE_PAGES; i++)
    pages.push({ mm, addr: shared + i * PAGE_SIZE, last: 900 + i });
  for (let i = 0; i < THP_TOUCHED; i++)
    pages.push({ mm, addr: huge + i * 97 * PAGE_SIZE, last: 0 });
  let pinnedFolio: Folio = -1;
  const pinnedPage = pages[5]!;
  let started = 0;

  spawn(m, 'setup', 0, function* (): KernelGen {
    // First touch from CPU 0: everything starts on node 0.
    for (const p of pages) {
      p.last = p.last === 0 ? 1 : p.last;
      yield* vm.userWrite(p.mm, p.addr, p.last);
    }
    pinnedFolio = foliosOf(m, mm, pinnedPage.addr, 1)[0]!;
    folioGet(m.mem, pinnedFolio); // a long-lived GUP reference
    started = 1;
  });

  for (let w = 0; w < WRITERS; w++) {
    spawn(m, `writer${w}`, 1 + w, function* (): KernelGen {
      while (started === 0) yield* m.rt.sleepFor(1000);
      const mine = pages.filter((_, i) => i % WRITERS === w);
      for (let k = 0; k < WRITES; k++) {
        const p = mine[m.rt.random.workload.int(0, mine.length - 1)]!;
        expect(yield* vm.userRead(p.mm, p.addr)).toBe(p.last);
        const value = 10_000 * (w + 1) + k;
        yield* vm.userWrite(p.mm, p.addr, value);
        p.last = value;
        yield;
      }
    });
  }

  spawn(m, 'migrate', 0, function* (): KernelGen {
    while (started === 0) yield* m.rt.sleepFor(1000);
    const modes = [MIGRATE_ASYNC, MIGRATE_SYNC, MIGRATE_SYNC_LIGHT, MIGRATE_ASYNC] as const;
    for (let round = 0; round < ROUNDS; round++) {
      const folios = new Set<Folio>();
      for (const p of pages) folios.add(foliosOf(m, p.mm, p.addr, 1)[0]!);
      const list = newList(m);
      yield* isolateFolios(m, [...folios], list);
      const reason = round % 2 === 0 ? MR_SYSCALL : MR_COMPACTION;
      const { rc } = yield* migrateToNode(m, list, (round + 1) % 2, modes[round]!, reason);
      // The pinned page fails every time and comes back for putback.
      expect(rc).toBeGreaterThanOrEqual(1);
      expect(list.has(pinnedFolio)).toBe(true);
      yield* m.core.putbackMovablePages(list);
      expect(vm.check()).toEqual([]);
      yield;
    }
  });

  runAll(m);
  // Every page reads its last value through its page table; the pinned one never moved.
  for (const p of pages) {
    const pte = vm.lookupPte(p.mm, p.addr);
    expect(pte.kind).toBe('present');
    expect(pageContent(m.mem, pte.pfn)).toBe(p.last);
  }
  expect(foliosOf(m, mm, pinnedPage.addr, 1)[0]).toBe(pinnedFolio);
  folioPut(m.mem, pinnedFolio);
  expectQuiescent(m);
  return waits;
}

describe('user tasks writing while migration runs, under random and PCT schedules', () => {
  const variants: VariantName[] = ['v6.3', 'v6.2', 'v6.3-rc1', 'v6.10', 'v6.11'];
  for (const variant of variants) {
    it(`${variant}: 24 random schedules`, () => {
      let waits = 0;
      for (let seed = 1; seed <= 24; seed++) waits += scenario(variant, 'random', seed);
      // The writers did run into migration entries and waited on them.
      expect(waits).toBeGreaterThan(0);
    });
    it(`${variant}: 24 PCT schedules (depth 3)`, () => {
      let waits = 0;
      for (let seed = 1; seed <= 24; seed++)
        waits += scenario(variant, { kind: 'pct', depth: 3 }, seed);
      expect(waits).toBeGreaterThan(0);
    });
  }
});
