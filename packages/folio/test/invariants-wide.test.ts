import { describe, expect, test } from 'vitest';
import {
  BufferRecycler,
  checkPhysicalMemory,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioPut,
  type PhysicalMemory,
  releasePhysicalMemory,
} from '../src/index.js';
import { physicalMemoryLooksSound } from '../src/internal.js';
import { type WideViews, wideViews } from '../src/invariants/wide.js';
import {
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_HOLE,
  type Memmap,
  markWritten,
  memmapOf,
  WRITE_CHUNK_SHIFT,
} from '../src/memmap.js';

/*
 * The memory-map check reads the frames of free blocks and the holes between nodes through
 * wider views of the same bytes (invariants/wide.ts): two frames of a 4-byte array a read,
 * four or eight frames' states. A float read of 0 may be -0 (the higher frame of a pair
 * holding 0x80000000, or the eighth state byte 0x80): those are corruptions too. Each test
 * runs on a machine with the views and on one without (an odd number of frames leaves some
 * 4-byte arrays off an 8-byte boundary), and checks both directions: the corruption found,
 * the restored map sound.
 */

/** Two 1,024-frame nodes with a few folios (node 1 is one free order-10 block at 1,024). */
function wideMemory(): PhysicalMemory {
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
  const list = new FolioList(mem);
  for (let i = 0; i < 6; i++) {
    const f = folioAlloc(mem, i % 3, 0);
    if (i % 2 === 0) list.addTail(f);
    else if (i === 3) folioPut(mem, f);
  }
  return mem;
}

/** One node of 1,023 frames (an odd count: no wide views), a few folios. */
function narrowMemory(): PhysicalMemory {
  const mem = createPhysicalMemory({ nodes: [{ pages: 1023 }] });
  for (let i = 0; i < 6; i++) folioAlloc(mem, i % 3, 0);
  return mem;
}

/** The first free block of order 3 or more of `m` at or after `from`: its first frame. */
function freeBlockAtLeast8(m: Memmap, from: number): number {
  for (let p = from; p < m.maxPfn; p++) {
    if (m.state[p] === FRAME_BUDDY && m.order[p]! >= 3 && p + 8 <= m.maxPfn) return p;
  }
  throw new Error('no free block of 8 frames');
}

/** Writes `value` into `field[at]`, expects the full check to fail, restores, expects sound. */
function expectCaught(mem: PhysicalMemory, field: keyof Memmap, at: number, value: number): void {
  const m = memmapOf(mem);
  const array = m[field] as unknown as Int32Array;
  const old = array[at]!;
  array[at] = value;
  const label = `${String(field)}[${at}] = ${value}`;
  expect(physicalMemoryLooksSound(m), label).toBe(false);
  expect(checkPhysicalMemory(mem).length, label).toBeGreaterThan(0);
  array[at] = old;
  expect(physicalMemoryLooksSound(m), `${label} restored`).toBe(true);
}

const MACHINES = [
  ['with wide views', wideMemory, true],
  ['without (odd frame count)', narrowMemory, false],
] as const;

describe.each(MACHINES)('the memory-map check read wide, %s', (_name, build, hasViews) => {
  test('the machine has wide views exactly when its arrays allow them, and is sound', () => {
    const mem = build();
    const m = memmapOf(mem);
    expect(wideViews(m) !== null).toBe(hasViews);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    expect(checkPhysicalMemory(mem)).toEqual([]);
  });

  test('a field of any of a free block first eight frames, the -0 patterns included, is found', () => {
    const mem = build();
    const m = memmapOf(mem);
    const head = freeBlockAtLeast8(m, 1);
    for (let at = head; at < head + 8; at++) {
      // 0x80000000 in the higher frame of a pair reads as -0 through a Float64Array.
      expectCaught(mem, 'flags', at, 0x80000000);
      expectCaught(mem, 'flags', at, 1);
      for (const field of ['refcount', 'mapcount', 'mappingId', 'listId'] as const) {
        expectCaught(mem, field, at, -0x80000000);
        expectCaught(mem, field, at, 1);
        expectCaught(mem, field, at, -1);
      }
      if (at === head) continue;
      for (const s of [FRAME_HOLE, FRAME_BUDDY, 0x80]) expectCaught(mem, 'state', at, s);
    }
  });

  test('a free block of four frames or fewer and one of a chunk and more are read whole', () => {
    const mem = build();
    const m = memmapOf(mem);
    for (let p = 1; p < m.maxPfn; ) {
      if (m.state[p] !== FRAME_BUDDY) {
        p++;
        continue;
      }
      const n = 1 << m.order[p]!;
      // The block's last frame: the end of a word, a chunk or the block.
      expectCaught(mem, 'listId', p + n - 1, -0x80000000);
      if (n > 1) expectCaught(mem, 'state', p + n - 1, FRAME_BUDDY);
      p += n;
    }
  });

  test('a hole frame with a state or a list, at each place of an 8-frame word, is found', () => {
    const mem = createPhysicalMemory({
      nodes: hasViews ? [{ pages: 64 }, { pages: 64 }] : [{ pages: 63 }, { pages: 63 }],
    });
    const m = memmapOf(mem);
    expect(wideViews(m) !== null).toBe(hasViews);
    const gapStart = m.nodeEnd[0]!;
    const gapEnd = m.nodeStart[1]!;
    expect(gapEnd - gapStart).toBeGreaterThan(900);
    const frames = [gapStart, gapStart + 1, gapEnd - 1, gapEnd - 2];
    for (let p = 520; p < 536; p++) frames.push(p);
    for (const p of frames) {
      expect(m.state[p]).toBe(FRAME_HOLE);
      // 0x80 in the eighth state byte of a word reads as -0 through a Float64Array.
      expectCaught(mem, 'state', p, 0x80);
      expectCaught(mem, 'state', p, FRAME_FREE);
      expectCaught(mem, 'listId', p, -0x80000000);
      expectCaught(mem, 'listId', p, 1);
    }
  });
});

/** Expects each view of `w` to cover exactly the bytes of `m`'s array it stands for. */
function expectViewsOf(m: Memmap, w: WideViews | null): void {
  expect(w).not.toBeNull();
  const views = w!;
  const pairs = [
    [m.flags, views.flags, 1],
    [m.refcount, views.refcount, 1],
    [m.mapcount, views.mapcount, 1],
    [m.mappingId, views.mappingId, 1],
    [m.listId, views.listId, 1],
    [m.state, views.state4, 2],
    [m.state, views.state8, 3],
  ] as const;
  for (const [a, view, shift] of pairs) {
    expect(view.buffer).toBe(a.buffer);
    expect(view.byteOffset).toBe(a.byteOffset);
    expect(view.length).toBe(a.length >> shift);
  }
}

describe('wide views across machines and passes', () => {
  test('machines built one after another from one recycler, and a large machine: views on their own arrays', () => {
    const recycler = new BufferRecycler();
    const config = { nodes: [{ pages: 64 }, { pages: 64 }] };
    let before: WideViews | null = null;
    for (let i = 0; i < 3; i++) {
      const mem = createPhysicalMemory(config, recycler);
      const w = wideViews(memmapOf(mem));
      expectViewsOf(memmapOf(mem), w);
      // The second and third machines take the first one's buffer, and its views.
      if (i > 0) expect(w).toBe(before);
      before = w;
      releasePhysicalMemory(mem);
    }
    // A machine of another size, then one with a buffer per array (more than 65,536 frames).
    const other = memmapOf(createPhysicalMemory({ nodes: [{ pages: 128 }, { pages: 128 }] }));
    expectViewsOf(other, wideViews(other));
    const large = memmapOf(createPhysicalMemory({ nodes: [{ pages: 40_000 }, { pages: 40_000 }] }));
    expect(large.flags.buffer).not.toBe(large.refcount.buffer);
    expectViewsOf(large, wideViews(large));
    const again = memmapOf(createPhysicalMemory({ nodes: [{ pages: 40_000 }, { pages: 40_000 }] }));
    expectViewsOf(again, wideViews(again));
    expect(physicalMemoryLooksSound(again)).toBe(true);
    again.listId[70_001] = 1;
    expect(physicalMemoryLooksSound(again)).toBe(false);
  });

  test('checks of two machines in turn: each reads its own frames', () => {
    const a = wideMemory();
    const b = createPhysicalMemory({ nodes: [{ pages: 512 }, { pages: 512 }] });
    const ma = memmapOf(a);
    const mb = memmapOf(b);
    expect(physicalMemoryLooksSound(ma)).toBe(true);
    expect(physicalMemoryLooksSound(mb)).toBe(true);
    const at = freeBlockAtLeast8(ma, 1) + 3;
    ma.refcount[at] = 1;
    // b's pass came last: a's pass must not read b's bytes.
    expect(physicalMemoryLooksSound(ma)).toBe(false);
    expect(physicalMemoryLooksSound(mb)).toBe(true);
    ma.refcount[at] = 0;
    expect(physicalMemoryLooksSound(ma)).toBe(true);
  });

  test('an incremental pass after a sound one reads each hole chunk a writer stamped, and only those', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 64 }, { pages: 64 }] });
    const m = memmapOf(mem);
    const first = m.nodeEnd[0]! >>> WRITE_CHUNK_SHIFT;
    const stop = m.nodeStart[1]! >>> WRITE_CHUNK_SHIFT;
    for (let c = first; c < stop; c++) {
      const p = (c << WRITE_CHUNK_SHIFT) + (c % 16);
      expect(physicalMemoryLooksSound(m)).toBe(true);
      // Chunks stamped on both sides of it (harmless) and the corrupted one.
      markWritten(m, 3);
      markWritten(m, ((stop - 1) << WRITE_CHUNK_SHIFT) + 1);
      markWritten(m, p);
      m.listId[p] = c;
      expect(physicalMemoryLooksSound(m, true), `chunk ${c}`).toBe(false);
      m.listId[p] = 0;
      // Unstamped, the same corruption is left to the full pass.
      expect(physicalMemoryLooksSound(m, true)).toBe(true);
      m.state[p] = FRAME_FREE;
      expect(physicalMemoryLooksSound(m, true), `chunk ${c} unstamped`).toBe(true);
      expect(physicalMemoryLooksSound(m)).toBe(false);
      m.state[p] = FRAME_HOLE;
    }
  });
});
