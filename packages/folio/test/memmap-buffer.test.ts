import { describe, expect, it } from 'vitest';
import { createPhysicalMemory } from '../src/index.js';

const PER_FRAME = [
  'index',
  'content',
  'flags',
  'refcount',
  'mapcount',
  'entireMapcount',
  'totalMapcount',
  'headOf',
  'next',
  'prev',
  'mappingId',
  'listId',
  'state',
  'order',
  'nid',
  'folioType',
  'mappingKind',
] as const;

type Arrays = Record<(typeof PER_FRAME)[number], ArrayLike<number> & ArrayBufferView>;

describe('the per-frame arrays of the memory map', () => {
  it('share one buffer on a small machine, without overlapping', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 64 }, { pages: 64 }] });
    const arrays = mem as unknown as Arrays;
    const buffer = arrays.index.buffer;
    const spans: [number, number][] = [];
    for (const name of PER_FRAME) {
      const a = arrays[name];
      expect(a.buffer).toBe(buffer);
      expect(a.length).toBe(mem.maxPfn);
      spans.push([a.byteOffset, a.byteOffset + a.byteLength]);
    }
    spans.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] as number);
    }
    expect(spans[spans.length - 1]?.[1]).toBeLessThanOrEqual(buffer.byteLength);
  });

  it('start as a fresh map does: -1 links and heads, free frames of their node', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 64 }, { pages: 64 }] });
    const arrays = mem as unknown as Arrays;
    // A hole between the nodes (pfns 64..1023) is untouched by the boot-time freeing.
    expect(arrays.headOf[500]).toBe(-1);
    expect(arrays.next[500]).toBe(-1);
    expect(arrays.prev[500]).toBe(-1);
    expect(arrays.refcount[500]).toBe(0);
    expect(arrays.content[500]).toBe(0);
    expect(arrays.nid[1030]).toBe(1);
  });

  it('keep a buffer each on a large machine', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 70_000 }] });
    const arrays = mem as unknown as Arrays;
    expect(arrays.flags.buffer).not.toBe(arrays.index.buffer);
    expect(arrays.flags.byteOffset).toBe(0);
  });
});
