import { describe, expect, test } from 'vitest';
import {
  checkPhysicalMemory,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioPagesByNode,
  type PhysicalMemory,
} from '../src/index.js';
import { physicalMemoryLooksSound } from '../src/internal.js';
import { chunkSummaries, nodeUsedAt } from '../src/invariants/chunk-summary.js';
import {
  FRAME_BUDDY,
  FRAME_HEAD,
  FRAME_HOLE,
  markWritten,
  memmapOf,
  WRITE_CHUNK_SHIFT,
} from '../src/memmap.js';
import { seededRandom } from './rich-memory.js';
import { stampedCorruptions } from './stamped-corruptions.js';

/*
 * The holes between nodes (the historic scenarios' 64-page nodes start 1,024 frames apart)
 * and the pages in folios per node: an incremental memory-map pass reads a hole chunk again
 * only when a writer stamped it, and `folioPagesByNode` takes the counts of the last sound
 * pass while no chunk is stamped. The promise stays the incremental check's: the full
 * check's verdict and counts for every write made through the writers (which stamp).
 */

/** Two 64-page nodes (node 1 at pfn 1,024), a few folios of orders 0-2, some on a list. */
function smallMemory(seed: number): PhysicalMemory {
  const next = seededRandom(seed);
  const mem = createPhysicalMemory({ nodes: [{ pages: 64 }, { pages: 64 }] });
  const list = new FolioList(mem);
  for (let i = 0; i < 12; i++) {
    const f = folioAlloc(mem, Math.floor(next() * 3), next() < 0.5 ? 0 : 1);
    if (f >= 0 && next() < 0.6) list.addTail(f);
  }
  return mem;
}

/** The first hole frame of the gap after node 0 that starts a chunk. */
function holeChunkStart(mem: PhysicalMemory): number {
  const m = memmapOf(mem);
  let p = m.nodeEnd[0]!;
  while ((p & ((1 << WRITE_CHUNK_SHIFT) - 1)) !== 0) p++;
  expect(m.state[p]).toBe(FRAME_HOLE);
  return p;
}

const PER_PFN = [
  'state',
  'flags',
  'refcount',
  'order',
  'headOf',
  'nid',
  'listId',
  'next',
  'prev',
] as const;

describe('holes and folio pages per node in the incremental memory-map check', () => {
  test('1,000 stamped one-field corruptions, most in holes, with and without a sound pass before: the full verdict each time', () => {
    const { disagreements, unsound } = stampedCorruptions(
      77,
      1000,
      PER_PFN,
      [0, 1, 2, 6, 10],
      (trial) => {
        const m = memmapOf(smallMemory(trial));
        // Odd trials: the machine's first pass is the incremental one (no sound pass yet).
        if (trial % 2 === 0) expect(physicalMemoryLooksSound(m)).toBe(true);
        return m;
      },
    );
    expect(disagreements).toEqual([]);
    // (A hole's test reads only its state and list: most writes there are harmless.)
    expect(unsound).toBeGreaterThan(150);
  }, 120_000);

  test('a raw write into a hole is left to the full check, before the first sound pass and after it', () => {
    for (const passFirst of [false, true]) {
      const mem = smallMemory(3);
      const m = memmapOf(mem);
      if (passFirst) expect(checkPhysicalMemory(mem)).toEqual([]);
      const p = holeChunkStart(mem) + 5;
      m.listId[p] = 1;
      // No writer stamped the chunk: it holds what the map was built with, for this pass.
      expect(checkPhysicalMemory(mem, { incremental: true })).toEqual([]);
      expect(checkPhysicalMemory(mem).join('\n')).toMatch(/hole|list/);
      // Stamped, as a writer does: the incremental pass reads the chunk again.
      markWritten(m, p);
      expect(checkPhysicalMemory(mem, { incremental: true })).toEqual(checkPhysicalMemory(mem));
      m.listId[p] = 0;
    }
  });

  test('folioPagesByNode takes the counts of the last sound pass while no chunk is stamped, and walks after a stamp', () => {
    const mem = smallMemory(5);
    const m = memmapOf(mem);
    const full = new Float64Array(2);
    const incremental = new Float64Array(2);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    folioPagesByNode(mem, full);
    folioPagesByNode(mem, incremental, true);
    expect([...incremental]).toEqual([...full]);
    expect(full[0]).toBeGreaterThan(1);
    // A folio's order written straight into the arrays: the recorded counts stand (raw
    // writes are the full walk's), the full walk counts the new order.
    // (An order-0 folio before a free frame: the walk counts one page more.)
    let f = m.nodeStart[0]! + 1;
    while (m.state[f] !== FRAME_HEAD || m.order[f] !== 0 || m.state[f + 1] !== FRAME_BUDDY) f++;
    m.order[f] = 1;
    folioPagesByNode(mem, incremental, true);
    expect([...incremental]).toEqual([...full]);
    const raw = new Float64Array(2);
    folioPagesByNode(mem, raw);
    expect(raw[0]! + raw[1]!).toBe(full[0]! + full[1]! + 1);
    // Stamped: the incremental count walks the chunk and agrees with the full walk.
    markWritten(m, f);
    folioPagesByNode(mem, incremental, true);
    expect([...incremental]).toEqual([...raw]);
  });

  test('a failing pass records no counts: the next count walks what was stamped', () => {
    const mem = smallMemory(7);
    const m = memmapOf(mem);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    const s = chunkSummaries(m);
    const at = nodeUsedAt(m);
    const recorded = [...s.subarray(at, at + 3)];
    expect(recorded[0]).toBe(m.soundEpoch);
    // A folio made larger by a (stamped) buggy writer: its would-be tail is another block.
    let f = m.nodeStart[1]!;
    while (m.state[f] !== FRAME_HEAD || m.order[f] !== 0) f++;
    m.order[f] = 2;
    markWritten(m, f);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
    expect([...s.subarray(at, at + 3)]).toEqual(recorded);
    const full = new Float64Array(2);
    const incremental = new Float64Array(2);
    folioPagesByNode(mem, full);
    folioPagesByNode(mem, incremental, true);
    expect([...incremental]).toEqual([...full]);
  });
});
