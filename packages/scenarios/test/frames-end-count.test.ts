import { folioAlloc, folioPut } from '@mmsim/folio';
import { FRAME_FREE, FRAME_HEAD, memmapOf } from '@mmsim/folio/internal';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import { kernelInvariants } from '../src/index.js';

/**
 * frames-conserved's end count takes the pages in folios that memmap-consistent's end check
 * (a full pass) counted, when that pass found the memory map sound and nothing was written
 * since; otherwise it steps through every frame. A frame made a folio head straight in the
 * arrays (no writer, no stamp) after the step checks must still be counted at the end, by
 * both invariants in turn and by frames-conserved alone.
 */
describe("frames-conserved's end count", () => {
  function machine(): Kernel {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256 }] });
    const held: number[] = [];
    for (let i = 0; i < 24; i++) held.push(folioAlloc(k.mem, i % 3, i % 2));
    for (let i = 0; i < 24; i += 4) folioPut(k.mem, held[i]!);
    // The folios left are a driver's (one reference each), so the refcounts are as held.
    const live = new Set(held.filter((_, i) => i % 4 !== 0));
    k.addReferenceHolder({ name: 'test driver', refs: (f) => (live.has(f) ? 1 : 0) });
    return k;
  }

  /** A frame inside a free block (not its first) turned into an order-0 folio head, raw. */
  function rawHead(k: Kernel): void {
    const m = memmapOf(k.mem);
    for (let p = m.nodeStart[0]!; p < m.nodeEnd[0]!; p++) {
      if (m.state[p] === FRAME_FREE) {
        m.state[p] = FRAME_HEAD;
        m.order[p] = 0;
        m.headOf[p] = p;
        return;
      }
    }
    throw new Error('no free frame inside a block on node 0');
  }

  it('a sound machine: both end checks pass', () => {
    const k = machine();
    const invs = kernelInvariants(k, {
      stride: 1,
      only: ['memmap-consistent', 'frames-conserved'],
    });
    for (const inv of invs) expect(inv.check('step')).toBeNull();
    expect(invs.map((inv) => inv.check('end'))).toEqual([null, null]);
  });

  it('a raw write after the step checks: memmap-consistent and then frames-conserved report it at the end', () => {
    const k = machine();
    const invs = kernelInvariants(k, {
      stride: 1,
      only: ['memmap-consistent', 'frames-conserved'],
    });
    for (const inv of invs) expect(inv.check('step')).toBeNull();
    rawHead(k);
    const [memmap, frames] = invs.map((inv) => inv.check('end'));
    expect(memmap).not.toBeNull();
    expect(frames).toMatch(/node 0: .* frames were duplicated/);
  });

  it('the same raw write with frames-conserved alone: reported at the end', () => {
    const k = machine();
    const both = kernelInvariants(k, {
      stride: 1,
      only: ['memmap-consistent', 'frames-conserved'],
    });
    for (const inv of both) expect(inv.check('step')).toBeNull();
    rawHead(k);
    const [frames] = kernelInvariants(k, { only: ['frames-conserved'] });
    expect(frames!.check('end')).toMatch(/node 0: .* frames were duplicated/);
  });
});
