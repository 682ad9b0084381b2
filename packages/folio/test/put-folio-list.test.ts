import { MmsimError } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  allocPfn,
  checkPhysicalMemory,
  createPhysicalMemory,
  declareCmaArea,
  FolioList,
  folioAlloc,
  folioGet,
  folioPut,
  folioSetFlag,
  isolateFreeBlock,
  MEMORY_OFFLINE,
  MIGRATE_MOVABLE,
  PG_hwpoison,
  PG_locked,
  type PhysicalMemory,
  pageSetFlag,
  putFolioList,
  startIsolatePageRange,
} from '../src/index.js';
import { FRAME_BUDDY, memmapOf } from '../src/memmap.js';
import { PAGEBLOCK_NR_PAGES as PB } from '../src/pageblock.js';
import { comparableMemmap } from './helpers.js';
import { seededRandom } from './rich-memory.js';

/*
 * `putFolioList` must leave exactly the machine that `list.del(f); folioPut(mem, f)` front
 * to back leaves: the same frames, the same free blocks and merges, the same order on every
 * free list (head or tail placement decides what later allocations get), the same counters
 * and write stamps. Each trial builds two equal machines from one seed and frees the same
 * list both ways.
 */

interface Trial {
  readonly mem: PhysicalMemory;
  readonly list: FolioList;
}

/**
 * A fragmented two-node machine (a CMA pageblock, an isolated pageblock, folios of several
 * orders allocated and some freed again) and a list of folios to put: order-0 pages taken
 * as compaction's free scanner takes them (whole free blocks split, in pfn order) mixed with
 * single pages, in runs or shuffled; with `odd`, a few folios that need the full path (a
 * second reference, a large folio, a poisoned page).
 */
function trial(seed: number, odd: boolean): Trial {
  const rnd = seededRandom(seed);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 2048 }] });
  declareCmaArea(mem, 4096 + PB, PB);
  startIsolatePageRange(mem, 2 * PB, 3 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE);
  const live: number[] = [];
  for (let i = 0; i < 150; i++) {
    const f = folioAlloc(mem, pick(4) === 0 ? pick(6) : 0, pick(2));
    if (typeof f === 'number' && f >= 0) live.push(f);
  }
  for (let i = 0; i < 60 && live.length > 0; i++) {
    folioPut(mem, live.splice(pick(live.length), 1)[0]!);
  }
  const m = memmapOf(mem);
  const pages: number[] = [];
  // Whole free blocks split into order-0 pages, as isolateFreepagesBlock takes them.
  for (let tries = 0; tries < 40 && pages.length < 300; tries++) {
    const p = pick(m.maxPfn);
    if (m.state[p] !== FRAME_BUDDY || m.order[p]! > 5) continue;
    const n = isolateFreeBlock(mem, p);
    for (let q = p; q < p + n; q++) pages.push(q);
  }
  // Single pages out of the middle of free blocks (partial merges on the way back).
  for (let i = 0; i < 30; i++) {
    const p = allocPfn(mem, pick(m.maxPfn));
    if (typeof p === 'number' && p >= 0) pages.push(p);
  }
  for (const f of live.splice(0, 20)) if (m.order[f] === 0) pages.push(f);
  if (pick(2) === 0) {
    for (let i = pages.length - 1; i > 0; i--) {
      const j = pick(i + 1);
      [pages[i], pages[j]] = [pages[j]!, pages[i]!];
    }
  }
  if (odd) {
    for (let i = 0; i < 4; i++) folioGet(mem, pages[pick(pages.length)]!);
    pageSetFlag(mem, pages[pick(pages.length)]!, PG_hwpoison);
    const large = live.find((f) => m.order[f]! > 0);
    if (large !== undefined) pages.splice(pick(pages.length), 0, large);
  }
  const list = new FolioList(mem);
  for (const p of pages) list.addTail(p);
  // The incremental check's walk record: the write stamps are then recorded too.
  expect(checkPhysicalMemory(mem)).toEqual([]);
  return { mem, list };
}

function putOneByOne(mem: PhysicalMemory, list: FolioList): number {
  let high = -1;
  while (!list.isEmpty()) {
    const f = list.first();
    list.del(f);
    high = Math.max(high, f);
    folioPut(mem, f);
  }
  return high;
}

/**
 * Builds two equal machines, frees the list of one one by one and the other's with
 * `putFolioList`, and expects the same return and the same memory map.
 */
function expectPutAsOneByOne(build: () => Trial): void {
  const a = build();
  const b = build();
  expect(comparableMemmap(b.mem)).toEqual(comparableMemmap(a.mem));
  const expected = putOneByOne(a.mem, a.list);
  expect(putFolioList(b.mem, b.list)).toBe(expected);
  expect(comparableMemmap(b.mem)).toEqual(comparableMemmap(a.mem));
}

describe('putFolioList', () => {
  test.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])(
    'leaves the machine freeing one by one leaves (seed %i)',
    (seed) => {
      const odd = seed % 3 === 0;
      const a = trial(seed, odd);
      const b = trial(seed, odd);
      expect(comparableMemmap(b.mem)).toEqual(comparableMemmap(a.mem));
      const expected = putOneByOne(a.mem, a.list);
      expect(putFolioList(b.mem, b.list)).toBe(expected);
      expect(b.list.isEmpty()).toBe(true);
      expect(comparableMemmap(b.mem)).toEqual(comparableMemmap(a.mem));
      expect(checkPhysicalMemory(b.mem)).toEqual([]);
    },
  );

  test('whole blocks freed at once: stale fields, stamps, merges below the block as one by one', () => {
    const build = (): Trial => {
      const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }, { pages: 1024 }] });
      const m = memmapOf(mem);
      // Fragment the low half, so that the lists of orders 0-4 hold blocks before the put.
      for (let p = 0; p < 1024; p += 3) allocPfn(mem, p);
      let x = -1;
      for (let p = 1024; p < 2048 && x < 0; p += 32) if (m.state[p] === FRAME_BUDDY) x = p;
      // An order-5 block whose frames once were free blocks of other kinds (a stale freeKind).
      while (m.order[x]! > 5) allocPfn(mem, x + (1 << (m.order[x]! - 1)));
      expect(m.order[x]).toBe(5);
      expect(isolateFreeBlock(mem, x)).toBe(32);
      for (let p = x; p < x + 32; p++) m.freeKind[p] = (p * 7) % 3;
      // A page of the other node, whose free writes none of node 0's lists and frames.
      const y = allocPfn(mem, 2048 + 5) as number;
      const list = new FolioList(mem);
      // x..x+7, another page, then x+8..x+31: the block at x + 8 completes with its lower
      // buddy already free and merges downwards, x + 16 onwards then merges with both.
      for (let p = x; p < x + 8; p++) list.addTail(p);
      list.addTail(y);
      for (let p = x + 8; p < x + 32; p++) list.addTail(p);
      // A new write epoch: the stamps of the put alone are compared.
      expect(checkPhysicalMemory(mem)).toEqual([]);
      return { mem, list };
    };
    expectPutAsOneByOne(build);
  });

  test('long runs (the free scanner takes whole blocks, up to a pageblock) as one by one', () => {
    const build = (): Trial => {
      const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
      const m = memmapOf(mem);
      // Blocks of orders 8, 7, ..., 0 below the held last page, as in split-lock-deadlock.
      allocPfn(mem, 2047);
      for (let p = 0; p < 1024; p += 5) allocPfn(mem, p);
      const list = new FolioList(mem);
      // The order-8 block at 1536 but its first page (the migration target), then the
      // order-7 and order-6 blocks after it, on one list as the free scanner adds them.
      expect(m.order[1536]).toBe(8);
      expect(isolateFreeBlock(mem, 1536, list)).toBe(256);
      expect(isolateFreeBlock(mem, 1792, list)).toBe(128);
      expect(isolateFreeBlock(mem, 1920, list)).toBe(64);
      list.del(1536);
      // A page in the middle with a second reference: the runs around it are cut there.
      folioGet(mem, 1800);
      expect(checkPhysicalMemory(mem)).toEqual([]);
      return { mem, list };
    };
    expectPutAsOneByOne(build);
  });

  test('an empty list: -1, nothing changed', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const before = comparableMemmap(mem);
    expect(putFolioList(mem, new FolioList(mem))).toBe(-1);
    expect(comparableMemmap(mem)).toEqual(before);
  });

  test('a bad page in the middle throws as folioPut does, after freeing the ones before it', () => {
    const run = (batch: boolean): { error: string; rest: number[]; s: unknown } => {
      const { mem, list } = trial(20, false);
      const bad = list.toArray()[7]!;
      folioSetFlag(mem, bad, PG_locked);
      let error = '';
      try {
        if (batch) putFolioList(mem, list);
        else putOneByOne(mem, list);
      } catch (e) {
        expect(e).toBeInstanceOf(MmsimError);
        error = (e as MmsimError).message;
      }
      return { error, rest: list.toArray(), s: comparableMemmap(mem) };
    };
    const one = run(false);
    const batch = run(true);
    expect(one.error).toMatch(/bad page state/);
    expect(batch.error).toBe(one.error);
    expect(batch.rest).toEqual(one.rest);
    expect(batch.rest.length).toBeGreaterThan(0);
    expect(batch.s).toEqual(one.s);
  });

  test('a list of another memory is refused', () => {
    const a = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const b = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    expect(() => putFolioList(a, new FolioList(b))).toThrow(/same memory/);
  });
});
