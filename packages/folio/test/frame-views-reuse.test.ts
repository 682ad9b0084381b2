import { describe, expect, it } from 'vitest';
import {
  BufferRecycler,
  createPhysicalMemory,
  folioAlloc,
  folioPut,
  pfnFolio,
  releasePhysicalMemory,
  setPageContent,
} from '../src/index.js';
import { memmapOf } from '../src/memmap.js';

/**
 * A memory map built on a recycled frames buffer takes the views made on that buffer before
 * (the constructor's per-frame arrays): only one machine at a time has a buffer, so two live
 * machines never share a view.
 */

const CONFIG = { nodes: [{ pages: 1100 }, { pages: 600 }] };

describe('the per-frame views of a recycled frames buffer', () => {
  it('are handed to the next machine of the buffer, never to two live machines', () => {
    const recycler = new BufferRecycler({ checkZeroed: true });
    const a = createPhysicalMemory(CONFIG, recycler);
    const b = createPhysicalMemory(CONFIG, recycler);
    const ma = memmapOf(a);
    const mb = memmapOf(b);
    expect(mb.index.buffer).not.toBe(ma.index.buffer);
    expect(mb.state).not.toBe(ma.state);
    // A folio of one machine is not seen in the other.
    const folio = folioAlloc(b, 2, 0) as number;
    setPageContent(b, folio, 77);
    expect(pfnFolio(a, folio)).toBe(-1);
    expect(ma.content[folio]).toBe(0);
    folioPut(b, folio);
    const views = { state: mb.state, next: mb.next, content: mb.content };
    releasePhysicalMemory(b);
    // The next machine of the layout takes b's buffer and its views, a's stay a's.
    const c = createPhysicalMemory(CONFIG, recycler);
    const mc = memmapOf(c);
    expect(mc.index.buffer).toBe(mb.index.buffer);
    expect({ state: mc.state, next: mc.next, content: mc.content }).toEqual(views);
    expect(mc.state).toBe(views.state);
    expect(mc.state).not.toBe(ma.state);
    releasePhysicalMemory(a);
    releasePhysicalMemory(c);
  });

  it('lies over the buffer as the views of a fresh buffer do', () => {
    const recycler = new BufferRecycler();
    const first = memmapOf(createPhysicalMemory(CONFIG, recycler));
    const layout = (m: typeof first): unknown =>
      Object.entries(m)
        .filter(([, v]) => ArrayBuffer.isView(v) && v.buffer === m.index.buffer)
        .map(([k, v]) => [k, (v as Uint8Array).byteOffset, (v as Uint8Array).length]);
    const before = layout(first);
    releasePhysicalMemory(first as never);
    const second = memmapOf(createPhysicalMemory(CONFIG, recycler));
    expect(second.index.buffer).toBe(first.index.buffer);
    expect(layout(second)).toEqual(before);
    expect(before).toHaveLength(18);
  });
});
