import { describe, expect, test } from 'vitest';
import {
  accountFreePages,
  addToFreeList,
  delFromFreeList,
  folioAlloc,
  freeListBase,
  noteFreeListWritten,
} from '../src/buddy.js';
import {
  createPhysicalMemory,
  MIGRATE_MOVABLE,
  type PhysicalMemory,
  startIsolatePageRange,
} from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import {
  FRAME_BUDDY,
  FREE_KIND_CMA,
  FREE_KIND_ISOLATE,
  FREE_KIND_NORMAL,
  type Memmap,
  memmapOf,
} from '../src/memmap.js';
import { PAGEBLOCK_NR_PAGES } from '../src/pageblock.js';
import { expectMarkedWriteFound } from './helpers.js';

/*
 * The free lists a list operation changed are marked per kind and node, a bit per order
 * (`Memmap.freeOrdersWritten`); an incremental pass right after a sound one walks the lists
 * of the marked orders (and of the orders its node walk asks for) and skips a node with no
 * list to walk and its free counters as the last sound pass saw them. These tests make a
 * state that only the walk of one marked list, or only the node's sums, can tell from a
 * sound one, so a mark set or read on the wrong word or bit, or a skip that ignores a
 * counter, misses it.
 */

/** Two 1,024-page nodes with a few small folios on each, checked sound twice (the record). */
function recorded(): { mem: PhysicalMemory; m: Memmap; live: number[] } {
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
  const live: number[] = [];
  for (let i = 0; i < 12; i++) live.push(folioAlloc(mem, i % 3, i % 2) as number);
  const m = memmapOf(mem);
  expect(physicalMemoryLooksSound(m)).toBe(true);
  expect(physicalMemoryLooksSound(m, true)).toBe(true);
  return { mem, m, live };
}

function reportSound(mem: PhysicalMemory): boolean {
  return reportPhysicalMemory(mem).length === 0;
}

describe('the free lists written, marked per kind and node', () => {
  for (const kind of [FREE_KIND_NORMAL, FREE_KIND_CMA, FREE_KIND_ISOLATE]) {
    for (const nid of [0, 1]) {
      test(`the tail of the empty order-10 list of kind ${kind}, node ${nid}, written and marked: found`, () => {
        const { mem, m } = recorded();
        const slot = freeListBase(m, kind, nid) + 10;
        expect(m.nrFree[slot]).toBe(0);
        expect(m.freeHead[slot]).toBe(-1);
        // Unmarked (a raw write), the full pass, which walks every list, finds it.
        m.freeTail[slot] = m.nodeStart[nid]!;
        expect(physicalMemoryLooksSound(m)).toBe(false);
        m.freeTail[slot] = -1;
        expect(physicalMemoryLooksSound(m)).toBe(true);
        expect(physicalMemoryLooksSound(m, true)).toBe(true);
        // A writer's mark and a tail no block backs: no count, counter or frame changed, so
        // only the walk of this list, which its mark asks for, finds it.
        m.freeTail[slot] = m.nodeStart[nid]!;
        noteFreeListWritten(m, slot);
        expect(m.freeOrdersWritten[kind * m.nrNodes + nid]).toBe(1 << 10);
        expect(m.freeOrdersWritten.reduce((a, w) => a + w, 0)).toBe(1 << 10);
        expect(reportSound(mem)).toBe(false);
        expect(physicalMemoryLooksSound(m, true)).toBe(false);
        m.freeTail[slot] = -1;
        expect(physicalMemoryLooksSound(m, true)).toBe(true);
        expect(physicalMemoryLooksSound(m, true)).toBe(true);
      });
    }
  }

  test('a list operation marks its own order of its own kind and node', () => {
    const { m, live } = recorded();
    const f = live.find((x) => m.nid[x] === 1 && m.order[x] === 0) as number;
    for (const kind of [FREE_KIND_NORMAL, FREE_KIND_CMA, FREE_KIND_ISOLATE]) {
      for (const order of [0, 3, 9, 10]) {
        m.freeOrdersWritten.fill(0);
        const slot = freeListBase(m, kind, 1) + order;
        addToFreeList(m, f, slot, kind, false);
        const want = new Array(m.freeOrdersWritten.length).fill(0);
        want[kind * m.nrNodes + 1] = 1 << order;
        expect(Array.from(m.freeOrdersWritten)).toEqual(want);
        m.freeOrdersWritten.fill(0);
        delFromFreeList(m, f, slot);
        expect(Array.from(m.freeOrdersWritten)).toEqual(want);
      }
    }
  });

  test('the marks are cleared by the walk: a legal list operation, then passes with nothing written', () => {
    const { mem, m } = recorded();
    const f = folioAlloc(mem, 0, 1);
    expect(f).toBeGreaterThanOrEqual(0);
    expect(m.freeOrdersWritten.some((w) => w !== 0)).toBe(true);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    expect(Array.from(m.freeOrdersWritten)).toEqual(new Array(m.freeOrdersWritten.length).fill(0));
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
  });

  // Free pages moved between two counters, their sum (which the node walk tests) kept, on a
  // node none of whose chunks or lists a writer touched: the pass must not skip the node for
  // its lists being untouched.
  const moves: [string, (m: Memmap, sign: number) => void][] = [
    [
      'NR_FREE_CMA_PAGES',
      (m, sign) => {
        accountFreePages(m, 1, FREE_KIND_NORMAL, -sign);
        accountFreePages(m, 1, FREE_KIND_CMA, sign);
      },
    ],
    [
      'NR_FREE_PAGES against the isolated pages',
      (m, sign) => {
        accountFreePages(m, 1, FREE_KIND_NORMAL, sign);
        accountFreePages(m, 1, FREE_KIND_ISOLATE, -sign);
      },
    ],
  ];
  for (const [name, move] of moves) {
    test(`${name} of an untouched node moved, no list changed: found by the sums, and passes once restored`, () => {
      const { mem, m } = recorded();
      move(m, 1);
      expect(reportSound(mem)).toBe(false);
      expect(physicalMemoryLooksSound(m, true)).toBe(false);
      move(m, -1);
      // The failed pass left no record: a full walk, then one that takes the record.
      expect(physicalMemoryLooksSound(m, true)).toBe(true);
      expect(physicalMemoryLooksSound(m, true)).toBe(true);
    });
  }

  test('an isolated pageblock: the isolate lists of the walked orders are walked, not only the marked ones', () => {
    const { mem, m } = recorded();
    // The last pageblock of node 1 isolated: its free blocks move to the isolate lists.
    const block = m.nodeEnd[1]! - PAGEBLOCK_NR_PAGES;
    expect(startIsolatePageRange(mem, block, block + PAGEBLOCK_NR_PAGES, MIGRATE_MOVABLE, 0)).toBe(
      0,
    );
    expect(m.pbKind).not.toBeNull();
    expect(physicalMemoryLooksSound(m)).toBe(true);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    // A listed isolate block's order or links, stamped but no list operation: only the walk
    // of its list, which the walked segment's orders ask for, sees it.
    let found = 0;
    for (let b = block; b < block + PAGEBLOCK_NR_PAGES; b++) {
      if (m.state[b] !== FRAME_BUDDY) continue;
      expect(m.freeKind[b]).toBe(FREE_KIND_ISOLATE);
      for (const field of ['next', 'prev'] as const) {
        const array = m[field];
        expectMarkedWriteFound(mem, array, b, array[b]! < 0 ? block : -1, `${field}[${b}]`);
      }
      found++;
    }
    expect(found).toBeGreaterThan(0);
  });
});
