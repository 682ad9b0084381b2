import { describe, expect, test } from 'vitest';
import {
  checkPhysicalMemory,
  createPhysicalMemory,
  folioAlloc,
  folioPagesByNode,
  folioPut,
  type PhysicalMemory,
} from '../src/index.js';
import { FRAME_BUDDY, FRAME_FREE, FRAME_HEAD, type Memmap, memmapOf } from '../src/memmap.js';
import { seededRandom } from './rich-memory.js';

/*
 * `folioPagesByNode(mem, used, false, true)` (`afterFullCheck`, the scenarios' end count)
 * takes the pages in folios that the last pass counted when that pass was a full one that
 * found the memory map sound, it is still the last pass and no writer stamped a chunk since;
 * after anything else it walks every frame. These tests compare it with the walk (the
 * default form) in each case, and show which writes between the two it sees.
 */

/** Two nodes with folios of orders 0-3 allocated and some freed again. */
function busy(seed: number): { mem: PhysicalMemory; live: number[] } {
  const next = seededRandom(seed);
  const mem = createPhysicalMemory({ nodes: [{ pages: 512 }, { pages: 512 }] });
  const live: number[] = [];
  for (let i = 0; i < 120; i++) {
    const f = folioAlloc(mem, Math.floor(next() * 4), next() < 0.5 ? 0 : 1);
    if (f < 0) continue;
    if (next() < 0.2) folioPut(mem, f);
    else live.push(f);
  }
  return { mem, live };
}

/** The count of every frame stepped through (`folioPagesByNode` without options). */
function walked(mem: PhysicalMemory): string {
  const used = new Float64Array(2);
  folioPagesByNode(mem, used);
  return used.join();
}

function afterFull(mem: PhysicalMemory): string {
  const used = new Float64Array(2);
  folioPagesByNode(mem, used, false, true);
  return used.join();
}

/** Turns a free frame (inside a free block, not its first) into an order-0 head, raw. */
function rawHeadInFreeBlock(m: Memmap): number {
  for (let p = m.nodeStart[0]!; p < m.nodeEnd[0]!; p++) {
    if (m.state[p] === FRAME_BUDDY && m.order[p]! >= 1 && m.state[p + 1] === FRAME_FREE) {
      m.state[p + 1] = FRAME_HEAD;
      m.order[p + 1] = 0;
      m.headOf[p + 1] = p + 1;
      m.nid[p + 1] = 0;
      return p + 1;
    }
  }
  throw new Error('no free block of order 1 or more on node 0');
}

describe('folioPagesByNode after a full memory-map check', () => {
  test('right after a sound full check: the walk count, and taken from that pass', () => {
    for (let seed = 0; seed < 20; seed++) {
      const { mem } = busy(seed);
      const want = walked(mem);
      expect(checkPhysicalMemory(mem)).toEqual([]);
      expect(afterFull(mem)).toBe(want);
      // Taken from the pass, not walked: a raw write after the pass is not in it (the
      // documented contract: nothing may be written between the check and the count).
      rawHeadInFreeBlock(memmapOf(mem));
      expect(afterFull(mem)).toBe(want);
      expect(walked(mem)).not.toBe(want);
    }
  });

  test('a write through the writers after the full check: walked again', () => {
    for (let seed = 0; seed < 20; seed++) {
      const { mem, live } = busy(100 + seed);
      expect(checkPhysicalMemory(mem)).toEqual([]);
      const before = afterFull(mem);
      if (seed % 2 === 0) folioPut(mem, live[seed % live.length]!);
      else folioAlloc(mem, seed % 3, seed % 4 < 2 ? 0 : 1);
      expect(walked(mem)).not.toBe(before);
      expect(afterFull(mem)).toBe(walked(mem));
    }
  });

  test('a raw write before the full check (which reports it): walked, the write counted', () => {
    const { mem } = busy(7);
    rawHeadInFreeBlock(memmapOf(mem));
    expect(checkPhysicalMemory(mem)).not.toEqual([]);
    expect(afterFull(mem)).toBe(walked(mem));
  });

  test('the last sound pass incremental, or a pass after the full one: walked', () => {
    for (let seed = 0; seed < 10; seed++) {
      const { mem, live } = busy(200 + seed);
      expect(checkPhysicalMemory(mem)).toEqual([]);
      folioPut(mem, live[0]!);
      // An incremental pass finds the map sound; its counts are not a full pass's.
      expect(checkPhysicalMemory(mem, { incremental: true })).toEqual([]);
      const m = memmapOf(mem);
      rawHeadInFreeBlock(m);
      expect(afterFull(mem)).toBe(walked(mem));
      // A full pass (unsound now, the raw head) after a sound full one: walked.
      const again = busy(300 + seed).mem;
      expect(checkPhysicalMemory(again)).toEqual([]);
      expect(checkPhysicalMemory(again)).toEqual([]);
      const taken = afterFull(again);
      expect(taken).toBe(walked(again));
      rawHeadInFreeBlock(memmapOf(again));
      expect(checkPhysicalMemory(again)).not.toEqual([]);
      expect(afterFull(again)).toBe(walked(again));
      expect(afterFull(again)).not.toBe(taken);
    }
  });

  test('no check run yet: walked', () => {
    const { mem } = busy(9);
    rawHeadInFreeBlock(memmapOf(mem));
    expect(afterFull(mem)).toBe(walked(mem));
  });

  test('the step count after an unsound pass: the chunks a writer stamped before it are walked', () => {
    for (let seed = 0; seed < 10; seed++) {
      const { mem } = busy(400 + seed);
      const m = memmapOf(mem);
      expect(checkPhysicalMemory(mem, { incremental: true })).toEqual([]);
      // A folio allocated through the writers (stamped), then a full pass that finds a raw
      // write elsewhere (a free frame's flags: no page counted changes) and so records
      // nothing, emptying the writers' list of stamped chunks for the next epoch.
      expect(folioAlloc(mem, seed % 3, seed % 2)).toBeGreaterThanOrEqual(0);
      const free = m.state.indexOf(FRAME_FREE);
      m.flags[free] = 1;
      expect(checkPhysicalMemory(mem)).not.toEqual([]);
      const used = new Float64Array(2);
      folioPagesByNode(mem, used, true);
      expect(used.join()).toBe(walked(mem));
    }
  });
});
