import { describe, expect, test } from 'vitest';
import {
  BufferRecycler,
  checkPhysicalMemory,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  releasePhysicalMemory,
} from '../src/index.js';
import { physicalMemoryLooksSound } from '../src/internal.js';
import { walkRecord } from '../src/invariants/chunk-summary.js';
import { markWritten, memmapOf } from '../src/memmap.js';

/*
 * The memory-map check's walk record (invariants/chunk-summary.ts) lives in a machine
 * buffer; a machine that takes the buffer the last record's views were made on (an
 * explorer's next machine, from the same recycler) takes those views. Its record must
 * start empty, as on a new buffer, and be its own: what the released machine recorded
 * is gone.
 */

const CONFIG = { nodes: [{ pages: 64 }, { pages: 64 }] };

describe('walk-record views across recycled machines', () => {
  test('the next machine on the same buffer takes the views, empty; its passes find what they should', () => {
    const recycler = new BufferRecycler();
    const a = createPhysicalMemory(CONFIG, recycler);
    const ma = memmapOf(a);
    const list = new FolioList(a);
    for (let i = 0; i < 6; i++) list.addTail(folioAlloc(a, i % 2, i % 2));
    expect(physicalMemoryLooksSound(ma)).toBe(true);
    markWritten(ma, 3);
    expect(physicalMemoryLooksSound(ma, true)).toBe(true);
    const ra = walkRecord(ma);
    expect(ra.words.some((w) => w !== 0)).toBe(true);
    expect(ra.lists.some((w) => w !== 0)).toBe(true);
    expect(ra.freeCounts.some((w) => w !== 0)).toBe(true);
    const words = ra.words;
    const frameEpoch = ma.frameEpoch;
    releasePhysicalMemory(a);

    const b = createPhysicalMemory(CONFIG, recycler);
    const mb = memmapOf(b);
    const rb = walkRecord(mb);
    // The same views (the same buffer), zeroed as a new buffer is.
    expect(rb.words).toBe(words);
    expect(mb.frameEpoch).toBe(frameEpoch);
    expect(rb).not.toBe(ra);
    expect(rb.valid).toBe(false);
    expect(mb.nrDirty).toBe(0);
    for (const array of [rb.words, rb.dirty, rb.lists, rb.freeCounts, mb.dirtyChunks!]) {
      expect(array.every((w) => w === 0)).toBe(true);
    }
    expect(mb.frameEpoch!.every((w) => w === 0)).toBe(true);
    // Its own passes: sound, then a stamped corruption found by the incremental pass.
    expect(physicalMemoryLooksSound(mb)).toBe(true);
    const f = folioAlloc(b, 0, 1);
    expect(physicalMemoryLooksSound(mb, true)).toBe(true);
    mb.listId[f] = 5;
    markWritten(mb, f);
    expect(physicalMemoryLooksSound(mb, true)).toBe(false);
    expect(checkPhysicalMemory(b).length).toBeGreaterThan(0);
  });

  test('a machine on another buffer, alive beside the first, has views of its own', () => {
    const recycler = new BufferRecycler();
    const a = createPhysicalMemory(CONFIG, recycler);
    const b = createPhysicalMemory(CONFIG, recycler);
    const ra = walkRecord(memmapOf(a));
    const rb = walkRecord(memmapOf(b));
    expect(rb.words).not.toBe(ra.words);
    expect(rb.words.buffer).not.toBe(ra.words.buffer);
    expect(memmapOf(b).frameEpoch).not.toBe(memmapOf(a).frameEpoch);
    expect(physicalMemoryLooksSound(memmapOf(a))).toBe(true);
    expect(physicalMemoryLooksSound(memmapOf(b))).toBe(true);
  });
});
