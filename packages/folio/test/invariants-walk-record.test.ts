import { describe, expect, test } from 'vitest';
import {
  accountFreePages,
  addToFreeList,
  delFromFreeList,
  freeListBase,
  freeSlotOf,
} from '../src/buddy.js';
import {
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioPagesByNode,
  folioPut,
  type PhysicalMemory,
} from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import { walkRecord } from '../src/invariants/chunk-summary.js';
import {
  FRAME_BUDDY,
  FRAME_HEAD,
  FREE_KIND_CMA,
  FREE_KIND_NORMAL,
  type Memmap,
  markWritten,
  memmapOf,
  WRITE_CHUNK_SHIFT,
} from '../src/memmap.js';
import { expectMarkedWriteFound } from './helpers.js';
import { seededRandom } from './rich-memory.js';

/*
 * An incremental memory-map pass after a sound one visits only the segments a writer
 * stamped since, and the free lists a writer changed or whose blocks lie there; what it
 * skips comes from the walk record, which each sound pass brings up to date for what it
 * walked (invariants/chunk-summary.ts). These tests run many incremental passes in a row,
 * so that the record is carried from pass to pass, and compare each verdict with the
 * report's (`reportPhysicalMemory`, which reads everything and keeps nothing).
 */

/** Two nodes of small folios (orders 0-4) on four lists, with free blocks between them. */
function busy(seed: number): { mem: PhysicalMemory; lists: FolioList[]; live: number[] } {
  const next = seededRandom(seed);
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
  const lists = Array.from({ length: 4 }, () => new FolioList(mem));
  const live: number[] = [];
  for (let i = 0; i < 300; i++) {
    const f = folioAlloc(mem, Math.floor(next() * next() * 5), next() < 0.5 ? 0 : 1);
    if (f < 0) continue;
    live.push(f);
    if (next() < 0.7) lists[Math.floor(next() * lists.length)]!.addTail(f);
  }
  return { mem, lists, live };
}

function reportSound(mem: PhysicalMemory): boolean {
  return reportPhysicalMemory(mem).length === 0;
}

/** The pages in folios per node: the incremental count and the full walk's. */
function samePages(mem: PhysicalMemory): boolean {
  const full = new Float64Array(2);
  const incremental = new Float64Array(2);
  folioPagesByNode(mem, full);
  folioPagesByNode(mem, incremental, true);
  return full.join() === incremental.join();
}

const FIELDS = ['state', 'order', 'refcount', 'listId', 'next', 'prev', 'freeKind', 'nid'] as const;

describe('the walk record carried over many incremental passes', () => {
  test('random operations and stamped corruptions, incremental passes only: the report verdict after each', () => {
    const next = seededRandom(77);
    let passes = 0;
    let unsound = 0;
    for (let run = 0; run < 30; run++) {
      const { mem, lists, live } = busy(500 + run);
      const m = memmapOf(mem);
      expect(physicalMemoryLooksSound(m, true)).toBe(true);
      for (let op = 0; op < 120; op++) {
        const r = next();
        const i = Math.floor(next() * live.length);
        const f = live[i];
        if (f === undefined) break;
        const on = lists.find((l) => l.has(f));
        const list = lists[Math.floor(next() * lists.length)]!;
        if (r < 0.3) {
          if (on === undefined) list.addTail(f);
          else if (on === list) list.del(f);
          else on.moveTo(f, list);
        } else if (r < 0.5) {
          on?.del(f);
          live.splice(i, 1);
          folioPut(mem, f);
        } else if (r < 0.75) {
          const g = folioAlloc(mem, Math.floor(next() * next() * 6), next() < 0.5 ? 0 : 1);
          if (g >= 0) live.push(g);
        } else if (r < 0.8 && on !== undefined && on !== list) {
          on.spliceTailInit(list);
        }
        const incremental = physicalMemoryLooksSound(m, true);
        passes++;
        expect(incremental, `run ${run} op ${op}`).toBe(reportSound(mem));
        expect(incremental, `run ${run} op ${op}`).toBe(true);
        expect(samePages(mem), `run ${run} op ${op}`).toBe(true);
        if (op % 7 !== 3) continue;
        // A stamped one-field corruption: the report's verdict; then put back (stamped), and
        // the next pass (which rebuilds the record after a failing one) is sound again.
        const field = FIELDS[Math.floor(next() * FIELDS.length)]!;
        const array = m[field] as unknown as Int32Array;
        const at = m.nodeStart[Math.floor(next() * 2)]! + Math.floor(next() * 1024);
        const old = array[at]!;
        array[at] = [old + 1, old - 1, 0, 1, 2, 4, Math.floor(next() * m.maxPfn)][
          Math.floor(next() * 7)
        ]!;
        markWritten(m, at);
        const found = physicalMemoryLooksSound(m, true);
        expect(found, `run ${run} op ${op}: ${field}[${at}] ${old} -> ${array[at]}`).toBe(
          reportSound(mem),
        );
        if (!found) unsound++;
        array[at] = old;
        markWritten(m, at);
        expect(physicalMemoryLooksSound(m, true), `run ${run} op ${op} repaired`).toBe(true);
      }
    }
    expect(passes).toBeGreaterThan(2500);
    expect(unsound).toBeGreaterThan(50);
  }, 120_000);

  test('more stamped chunks than the sorted list takes: the stamps are read, the verdict is the same', () => {
    const { mem, live } = busy(3);
    const m = memmapOf(mem);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    markWritten(m, live[0]!);
    markWritten(m, live[0]!);
    expect(m.nrDirty).toBe(1);
    for (let pfn = 0; pfn < m.maxPfn; pfn += 1 << WRITE_CHUNK_SHIFT) markWritten(m, pfn);
    expect(m.nrDirty).toBe(m.maxPfn >>> WRITE_CHUNK_SHIFT);
    const f = live.find((x) => m.order[x] === 0 && m.nid[x] === 1) as number;
    m.refcount[f] = -1;
    markWritten(m, f);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
    expect(m.nrDirty).toBe(0);
    m.refcount[f] = 1;
    markWritten(m, f);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    expect(walkRecord(m).valid).toBe(true);
  });
});

describe('free lists the incremental pass does not walk', () => {
  /** A sound memory whose record the next incremental pass takes. */
  function recorded(seed: number): { mem: PhysicalMemory; m: Memmap; live: number[] } {
    const { mem, live } = busy(seed);
    const m = memmapOf(mem);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    return { mem, m, live };
  }

  test('a live folio linked on an empty free list by the list writer: found', () => {
    const { mem, m, live } = recorded(11);
    const f = live.find((x) => m.state[x] === FRAME_HEAD && m.order[x] === 0 && m.nid[x] === 0);
    expect(f).toBeDefined();
    const slot = freeListBase(m, FREE_KIND_CMA, 0);
    expect(m.nrFree[slot]).toBe(0);
    // The list writer stamps the frame, but the folio's chunk may have been walked anyway:
    // what matters is that the changed list is walked (its count and head moved).
    addToFreeList(m, f as number, slot, FREE_KIND_CMA, false);
    m.freeKind[f as number] = 0;
    expect(reportSound(mem)).toBe(false);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
  });

  test('a free block taken off its list, its frames left as they are: found', () => {
    const { mem, m } = recorded(12);
    let b = m.nodeStart[1]!;
    while (m.state[b] !== FRAME_BUDDY) b++;
    delFromFreeList(m, b, freeSlotOf(m, b));
    expect(reportSound(mem)).toBe(false);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
  });

  test('free pages moved between the counters, no list changed: found by the sums', () => {
    const { mem, m } = recorded(13);
    // NR_FREE_PAGES unchanged, NR_FREE_CMA_PAGES one more: only the lists' sums disagree.
    accountFreePages(m, 0, FREE_KIND_NORMAL, -1);
    accountFreePages(m, 0, FREE_KIND_CMA, 1);
    expect(reportSound(mem)).toBe(false);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
    accountFreePages(m, 0, FREE_KIND_CMA, -1);
    accountFreePages(m, 0, FREE_KIND_NORMAL, 1);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
  });

  test('the order or links of listed free blocks, stamped: found as the report finds them', () => {
    const { mem, m } = recorded(14);
    // Each free block's order, then its list links: a wrong link is seen only by the walk of
    // its free list, which the pass must take although no list operation touched it.
    let found = 0;
    for (let b = m.nodeStart[0]!; b < m.nodeEnd[1]!; b++) {
      if (m.state[b] !== FRAME_BUDDY) continue;
      for (const field of ['order', 'next', 'prev'] as const) {
        const array = m[field];
        const old = array[b]!;
        const bad = field === 'order' ? (old === 0 ? 1 : old - 1) : old < 0 ? b ^ 1 : -1;
        expectMarkedWriteFound(mem, array, b, bad, `${field}[${b}]`);
      }
      found++;
    }
    expect(found).toBeGreaterThan(4);
  });
});
