import { MmsimError } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  allocPfn,
  checkPhysicalMemory,
  createPhysicalMemory,
  declareCmaArea,
  FolioList,
  folioAlloc,
  folioPut,
  isolateFreeBlock,
  MEMORY_OFFLINE,
  MIGRATE_MOVABLE,
  type PhysicalMemory,
  startIsolatePageRange,
} from '../src/index.js';
import { FRAME_BUDDY, memmapOf } from '../src/memmap.js';
import { PAGEBLOCK_NR_PAGES as PB } from '../src/pageblock.js';
import { comparableMemmap } from './helpers.js';
import { seededRandom } from './rich-memory.js';

/*
 * `isolateFreeBlock(mem, pfn, list)` must leave exactly the machine and the list that
 * `isolateFreeBlock(mem, pfn)` followed by `list.addTail(p)` for each page in pfn order (the
 * free scanner's loop before it) leaves: every memmap field, the free lists, the counters,
 * the list ids and the write stamps. Each trial builds two equal machines from one seed and
 * isolates the same blocks both ways.
 */

interface Machine {
  readonly mem: PhysicalMemory;
  /** A list that already holds some folios (the new pages go after its tail), or none. */
  readonly list: FolioList;
  /** Free blocks to isolate, in the order to isolate them. */
  readonly blocks: number[];
}

/**
 * A fragmented two-node machine (a CMA pageblock, an isolated pageblock, folios of several
 * orders allocated and some freed again), a list with a few folios on it (or empty), and
 * the first frames of every free block of order up to `maxOrder`, shuffled.
 */
function machine(seed: number, maxOrder: number): Machine {
  const rnd = seededRandom(seed);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 2048 }] });
  declareCmaArea(mem, 4096 + PB, PB);
  startIsolatePageRange(mem, 2 * PB, 3 * PB, MIGRATE_MOVABLE, MEMORY_OFFLINE);
  const live: number[] = [];
  for (let i = 0; i < 120; i++) {
    const f = folioAlloc(mem, pick(4) === 0 ? pick(6) : 0, pick(2));
    if (typeof f === 'number' && f >= 0) live.push(f);
  }
  for (let i = 0; i < 50 && live.length > 0; i++) {
    folioPut(mem, live.splice(pick(live.length), 1)[0]!);
  }
  for (let i = 0; i < 40; i++) allocPfn(mem, pick(6144));
  const m = memmapOf(mem);
  const list = new FolioList(mem);
  if (seed % 2 === 0) for (const f of live.slice(0, 5)) list.addTail(f);
  const blocks: number[] = [];
  for (let p = 0; p < m.maxPfn; p++) {
    if (m.state[p] === FRAME_BUDDY && m.order[p]! <= maxOrder) blocks.push(p);
  }
  for (let i = blocks.length - 1; i > 0; i--) {
    const j = pick(i + 1);
    [blocks[i], blocks[j]] = [blocks[j]!, blocks[i]!];
  }
  // The incremental check's walk record: the write stamps are then recorded too.
  expect(checkPhysicalMemory(mem)).toEqual([]);
  return { mem, list, blocks };
}

/** The loop the free scanner ran before: the block isolated, then each page added. */
function oneByOne(mem: PhysicalMemory, pfn: number, list: FolioList): number {
  const n = isolateFreeBlock(mem, pfn);
  for (let p = pfn; p < pfn + n; p++) list.addTail(p);
  return n;
}

describe('isolateFreeBlock onto a list', () => {
  test.each([1, 2, 3, 4])(
    'leaves the machine and the list that isolating and adding page by page leave (seed %i)',
    (seed) => {
      const a = machine(seed, 10);
      const b = machine(seed, 10);
      expect(b.blocks).toEqual(a.blocks);
      expect(a.blocks.length).toBeGreaterThan(10);
      const orders = new Set(a.blocks.map((p) => memmapOf(a.mem).order[p]));
      expect(orders.size).toBeGreaterThan(3);
      for (const [i, p] of a.blocks.entries()) {
        expect(isolateFreeBlock(b.mem, p, b.list)).toBe(oneByOne(a.mem, p, a.list));
        // A memory-map check every 32 blocks: the next ones stamp in a new write epoch.
        if (i % 32 === 0) {
          expect(comparableMemmap(b.mem)).toEqual(comparableMemmap(a.mem));
          expect(checkPhysicalMemory(b.mem)).toEqual([]);
          expect(checkPhysicalMemory(a.mem)).toEqual([]);
        }
      }
      expect(b.list.toArray()).toEqual(a.list.toArray());
      expect(b.list.size).toBe(a.list.size);
      expect(comparableMemmap(b.mem)).toEqual(comparableMemmap(a.mem));
      expect(checkPhysicalMemory(b.mem)).toEqual([]);
    },
  );

  test('stale links and fields in the frames of a free block are overwritten as page by page', () => {
    const build = (): Machine & { x: number } => {
      const t = machine(13, 10);
      const m = memmapOf(t.mem);
      const x = t.blocks.find((p) => m.order[p]! >= 5)!;
      // What earlier lives of the frames may have left (the allocator reads none of it).
      for (let p = x + 1; p < x + (1 << m.order[x]!); p++) {
        m.next[p] = p % 7;
        m.prev[p] = p % 5;
        m.refcount[p] = 3;
        m.content[p] = p;
        m.order[p] = 2;
        m.headOf[p] = x;
        m.folioType[p] = 1;
      }
      return { ...t, x };
    };
    const a = build();
    const b = build();
    expect(isolateFreeBlock(b.mem, b.x, b.list)).toBe(oneByOne(a.mem, a.x, a.list));
    expect(b.list.toArray()).toEqual(a.list.toArray());
    expect(comparableMemmap(b.mem)).toEqual(comparableMemmap(a.mem));
  });

  test('a frame that does not start a free block: 0, nothing changed', () => {
    const { mem, list, blocks } = machine(11, 10);
    const before = comparableMemmap(mem);
    expect(isolateFreeBlock(mem, blocks[0]! + 1, list)).toBe(0);
    expect(list.isEmpty()).toBe(true);
    expect(comparableMemmap(mem)).toEqual(before);
  });

  test('a page already on a list is refused after the pages before it, as page by page', () => {
    const run = (bulk: boolean): { error: string; s: unknown; list: number[] } => {
      const { mem, list, blocks } = machine(12, 10);
      const m = memmapOf(mem);
      const x = blocks.find((p) => m.order[p]! >= 6)!;
      // A corrupt memmap: a frame of the free block claims to be on a list.
      const other = new FolioList(mem);
      other.addTail(folioAlloc(mem, 0, 1) as number);
      m.listId[x + 37] = m.listId[other.first()]!;
      let error = '';
      try {
        if (bulk) isolateFreeBlock(mem, x, list);
        else oneByOne(mem, x, list);
      } catch (e) {
        expect(e).toBeInstanceOf(MmsimError);
        error = `${(e as MmsimError).code}: ${(e as MmsimError).message}`;
      }
      return { error, s: comparableMemmap(mem), list: list.toArray() };
    };
    const one = run(false);
    const bulk = run(true);
    const before = machine(12, 10).list.size;
    expect(one.error).toMatch(/CONTRACT_VIOLATION: FolioList.addTail: .* another list/);
    expect(bulk.error).toBe(one.error);
    expect(bulk.list).toEqual(one.list);
    expect(bulk.list.length).toBe(before + 37);
    expect(bulk.s).toEqual(one.s);
  });

  test('a list of another memory is refused before anything is taken', () => {
    const a = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const b = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const m = memmapOf(a);
    const x = m.state.indexOf(FRAME_BUDDY);
    const before = comparableMemmap(a);
    expect(() => isolateFreeBlock(a, x, new FolioList(b))).toThrow(/same memory/);
    expect(comparableMemmap(a)).toEqual(before);
  });
});
