import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  BufferRecycler,
  createPhysicalMemory,
  folioAlloc,
  folioPut,
  type PhysicalMemory,
  releasePhysicalMemory,
  setPageContent,
} from '../src/index.js';
import { memmapOf } from '../src/memmap.js';

/**
 * The memory map's frames buffer goes back to the recycler in the state the memory map's
 * constructor leaves it (-1 in `headOf`, `next`, `prev`, 0 elsewhere), and the next machine
 * of the layout takes it without the constructor's fills.
 */

/** Two nodes with a hole between them (node 1 starts at pfn 2048) and a hugetlb page. */
const CONFIG = { nodes: [{ pages: 1100, hugetlbPages: 1 }, { pages: 600 }] };

/** The per-frame arrays and per-node tables of a memory map, by name, as plain arrays. */
function arraysOf(mem: PhysicalMemory): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, value] of Object.entries(memmapOf(mem))) {
    if (ArrayBuffer.isView(value)) out[name] = Array.from(value as unknown as ArrayLike<number>);
  }
  return out;
}

/** Allocations of several orders on both nodes, some freed again, and content written. */
function dirty(mem: PhysicalMemory, seed: number, count = 60): void {
  const live: number[] = [];
  for (let i = 0; i < count; i++) {
    const folio = folioAlloc(mem, (i + seed) % 4, i % mem.nrNodes);
    expect(folio).toBeGreaterThanOrEqual(0);
    setPageContent(mem, folio, 1000 + i);
    live.push(folio);
  }
  for (let i = seed % 3; i < live.length; i += 3) folioPut(mem, live[i]!);
}

describe("the frames buffer, given back as the memory map's constructor leaves it", () => {
  it('gives the next machine of the layout the machine a fresh build gives', () => {
    const recycler = new BufferRecycler({ checkZeroed: true });
    const fresh = arraysOf(createPhysicalMemory(CONFIG));
    let previous: ArrayBufferLike | null = null;
    for (let round = 0; round < 4; round++) {
      const mem = createPhysicalMemory(CONFIG, recycler);
      const frames = memmapOf(mem).index.buffer;
      // From the second machine on, the first one's buffer comes back, unzeroed.
      if (previous !== null) expect(frames).toBe(previous);
      expect(arraysOf(mem)).toEqual(fresh);
      dirty(mem, round);
      releasePhysicalMemory(mem);
      previous = frames;
    }
  });

  it('leaves a machine of another layout with as many frames as a fresh one', () => {
    const recycler = new BufferRecycler({ checkZeroed: true });
    // One node of 1088 frames: the same buffer size as 64 + 64 frames with a hole.
    const holed = { nodes: [{ pages: 64 }, { pages: 64 }] };
    const flat = { nodes: [{ pages: 1088 }] };
    const a = createPhysicalMemory(holed, recycler);
    dirty(a, 1, 12);
    releasePhysicalMemory(a);
    const b = createPhysicalMemory(flat, recycler);
    expect(arraysOf(b)).toEqual(arraysOf(createPhysicalMemory(flat)));
    dirty(b, 2, 12);
    releasePhysicalMemory(b);
    expect(arraysOf(createPhysicalMemory(holed, recycler))).toEqual(
      arraysOf(createPhysicalMemory(holed)),
    );
  });

  it('is checked by a checking recycler: a hole written after the build is caught', () => {
    for (const [field, value] of [
      ['headOf', 0],
      ['next', 5],
      ['order', 3],
    ] as const) {
      const recycler = new BufferRecycler({ checkZeroed: true });
      const used = createPhysicalMemory(CONFIG, recycler);
      releasePhysicalMemory(used);
      const mem = createPhysicalMemory(CONFIG, recycler);
      // pfn 1500 is in the hole between node 0's end (1100) and node 1's start (2048).
      memmapOf(mem)[field][1500] = value;
      releasePhysicalMemory(mem);
      let error: unknown = null;
      try {
        createPhysicalMemory(CONFIG, recycler);
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(MmsimError);
      expect((error as MmsimError).code).toBe('INVARIANT_VIOLATED');
      expect((error as MmsimError).message).toMatch(
        /constructor leaves it has byte \d+ = \d+, not (0|255)/,
      );
    }
  });
});
