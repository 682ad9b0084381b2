import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  BufferRecycler,
  checkPhysicalMemory,
  createPhysicalMemory,
  folioAlloc,
  frameArrayI32,
  frameArrayU8,
  machineBuffer,
  memoryAttachment,
  releasePhysicalMemory,
  setMemoryAttachment,
} from '../src/index.js';
import { BUILT_EPOCH, memmapOf, WRITE_CHUNK_SHIFT } from '../src/memmap.js';

const CONFIG = { nodes: [{ pages: 64 }, { pages: 64 }] };

/** Every typed array of a memory map (per-frame and per-node tables), by name. */
function perFrameArrays(mem: object): Map<string, ArrayLike<number>> {
  const out = new Map<string, ArrayLike<number>>();
  for (const [name, value] of Object.entries(mem)) {
    if (ArrayBuffer.isView(value)) out.set(name, value as unknown as ArrayLike<number>);
  }
  return out;
}

describe('a machine built with a buffer recycler', () => {
  it('hands its per-frame buffers back on release, and the next machine reuses them', () => {
    const recycler = new BufferRecycler();
    const first = createPhysicalMemory(CONFIG, recycler);
    const locks = frameArrayI32(first);
    const where = frameArrayU8(first);
    expect(recycler.kept).toBe(0);
    releasePhysicalMemory(first);
    // The memmap's shared buffer, the buffer of its free lists and mapping refs, its
    // free-kind array, its chunk stamps and the two arrays taken above.
    expect(recycler.kept).toBe(6);
    const second = createPhysicalMemory(CONFIG, recycler);
    // Same sizes come back in any order: the free-kind array and `where` are both a byte a frame.
    const handedBack = new Set<ArrayBufferLike>([locks.buffer, where.buffer]);
    expect(handedBack.has(frameArrayI32(second).buffer)).toBe(true);
    expect(recycler.kept).toBe(1);
    frameArrayU8(second);
    expect(recycler.kept).toBe(0);
  });

  it('starts exactly as a machine built without one, however the previous one was left', () => {
    const recycler = new BufferRecycler();
    const used = createPhysicalMemory(CONFIG, recycler);
    // Dirty the recycled buffers: allocations, and per-frame tables of other parts.
    expect(folioAlloc(used, 2, 1)).toBeGreaterThan(0);
    expect(folioAlloc(used, 0, 0)).toBeGreaterThan(0);
    frameArrayI32(used).fill(7);
    frameArrayU8(used).fill(9);
    releasePhysicalMemory(used);
    const reused = createPhysicalMemory(CONFIG, recycler);
    const fresh = createPhysicalMemory(CONFIG);
    const a = perFrameArrays(reused);
    const b = perFrameArrays(fresh);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    expect(a.size).toBeGreaterThanOrEqual(30);
    // The free lists, their counts and the mapping refs live in a recycled buffer too.
    for (const name of ['freeHead', 'freeTail', 'nrFree', 'mappingRefs']) {
      expect(a.has(name), name).toBe(true);
    }
    for (const [name, array] of a) {
      expect(Array.from(array), name).toEqual(Array.from(b.get(name) as ArrayLike<number>));
    }
    expect(Array.from(frameArrayI32(reused))).toEqual(Array.from(frameArrayI32(fresh)));
    expect(Array.from(frameArrayU8(reused))).toEqual(Array.from(frameArrayU8(fresh)));
    expect(Array.from(frameArrayU8(reused)).every((v) => v === 0)).toBe(true);
  });

  it('recycles the chunk stamps of the incremental check, cleared: its first pass reads everything', () => {
    const recycler = new BufferRecycler();
    const used = createPhysicalMemory(CONFIG, recycler);
    const stamps = memmapOf(used).chunkEpoch;
    expect(checkPhysicalMemory(used)).toEqual([]);
    // Writes after a sound pass stamp their chunks with a later epoch.
    expect(folioAlloc(used, 0, 1)).toBeGreaterThan(0);
    expect(Array.from(stamps).some((e) => e > 1)).toBe(true);
    releasePhysicalMemory(used);
    const reused = createPhysicalMemory(CONFIG, recycler);
    const m = memmapOf(reused);
    expect(m.chunkEpoch.buffer).toBe(stamps.buffer);
    expect(m.chunkEpoch.length).toBe((m.maxPfn >>> WRITE_CHUNK_SHIFT) + 1);
    // As a new machine's: its set-up stamped at epoch 1, nothing of the old epochs is left.
    const fresh = memmapOf(createPhysicalMemory(CONFIG)).chunkEpoch;
    expect(Array.from(m.chunkEpoch)).toEqual(Array.from(fresh));
    expect(Math.max(...m.chunkEpoch)).toBe(1);
    // Handed out at the build's epoch (writers from now on stamp it), never checked.
    expect([m.writeEpoch, m.soundEpoch]).toEqual([BUILT_EPOCH, 0]);
    // A raw write no writer stamped, before any sound pass of the new machine: had the old
    // stamps and epochs survived, an incremental pass could skip it.
    const free = m.maxPfn - 1;
    m.refcount[free] = 1;
    expect(checkPhysicalMemory(reused, { incremental: true }).join('\n')).toMatch(/not clean/);
  });

  it('refuses new per-frame arrays once released; releasing twice does nothing', () => {
    const recycler = new BufferRecycler();
    const mem = createPhysicalMemory(CONFIG, recycler);
    releasePhysicalMemory(mem);
    releasePhysicalMemory(mem);
    expect(recycler.kept).toBe(4);
    expect(() => frameArrayI32(mem)).toThrow(MmsimError);
  });

  it('leaves a machine built without one alone', () => {
    const mem = createPhysicalMemory(CONFIG);
    const locks = frameArrayI32(mem);
    releasePhysicalMemory(mem);
    locks[3] = 5;
    expect(frameArrayI32(mem).buffer).not.toBe(locks.buffer);
  });

  it('rejects a recycler that is not one (INVALID_CONFIG)', () => {
    expect(() => createPhysicalMemory(CONFIG, {} as BufferRecycler)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });
});

describe('machineBuffer: a small per-machine table of another part', () => {
  it('comes from the recycler zeroed, goes back on release, and is refused after it', () => {
    const recycler = new BufferRecycler();
    const first = createPhysicalMemory(CONFIG, recycler);
    const a = machineBuffer(first, 696);
    expect(a.byteLength).toBe(696);
    new Float64Array(a).fill(3);
    releasePhysicalMemory(first);
    const second = createPhysicalMemory(CONFIG, recycler);
    const b = machineBuffer(second, 696);
    // The same buffer, handed to the next machine all zero.
    expect(b).toBe(a);
    expect(new Uint8Array(b).every((v) => v === 0)).toBe(true);
    // Not handed out twice: the next one of that size is a new buffer.
    expect(machineBuffer(second, 696)).not.toBe(b);
    releasePhysicalMemory(second);
    expect(() => machineBuffer(second, 8)).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
  });

  it('is a buffer of its own without a recycler, or for a stand-in memory', () => {
    const mem = createPhysicalMemory(CONFIG);
    const a = machineBuffer(mem, 64);
    releasePhysicalMemory(mem);
    expect(machineBuffer(mem, 64)).not.toBe(a);
    const fake = { nrNodes: 1, maxPfn: 8, zeroPfn: 0 } as unknown as Parameters<
      typeof machineBuffer
    >[0];
    expect(machineBuffer(fake, 16).byteLength).toBe(16);
    expect(() => machineBuffer(mem, -1)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('what other packages keep per machine (memory attachments)', () => {
  it('is kept per memory and per key, undefined until set', () => {
    const a = createPhysicalMemory(CONFIG);
    const b = createPhysicalMemory(CONFIG);
    const key = { table: 'test' };
    const other = { table: 'other' };
    expect(memoryAttachment(a, key)).toBeUndefined();
    setMemoryAttachment(a, key, [1]);
    setMemoryAttachment(b, key, [2]);
    setMemoryAttachment(a, other, 'x');
    expect(memoryAttachment(a, key)).toEqual([1]);
    expect(memoryAttachment(b, key)).toEqual([2]);
    expect(memoryAttachment(a, other)).toBe('x');
    expect(memoryAttachment(b, other)).toBeUndefined();
  });
});
