import { FRAME_TAIL, folioAlloc } from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { describe, expect, it } from 'vitest';
import { checkRmap, checkRmapReference } from '../src/internal.js';
import { writtenAnonMachine } from './helpers.js';

/*
 * The check's wide views of the memmap (frame states 8 and 4 at a time, heads two at a
 * time) are kept between checks and made again only when the check is given other arrays.
 * Checks of two machines in turn must each read their own machine's frames: a view left from
 * the other machine would let a broken tail pass, or report a sound machine.
 */

/** A machine with 24 anonymous pages written and an unmapped order-9 folio. */
function machine(nodes: readonly number[]) {
  const { ctx } = writtenAnonMachine(nodes);
  const head = folioAlloc(ctx.mem, 9, 1);
  expect(head).toBeGreaterThan(0);
  return { ctx, mem: memmapOf(ctx.mem), head };
}

describe("the rmap check's memmap views across machines", () => {
  it('reads each machine of two, checked in turn, through its own arrays', () => {
    // Different sizes and layouts: the order-9 folios sit at different frames.
    const a = machine([4096, 4096]);
    const b = machine([2048, 1536]);
    expect(a.mem.state).not.toBe(b.mem.state);
    for (const s of [a, b, a, b]) {
      expect(checkRmap(s.ctx)).toEqual([]);
      expect(checkRmapReference(s.ctx)).toEqual([]);
    }
    // A tail in a middle group of each machine's folio names itself, one machine at a time:
    // the broken one throws as the reference does, the other still passes.
    for (const [bad, good] of [
      [b, a],
      [a, b],
    ] as const) {
      const p = bad.head + 256 + 3;
      expect(bad.mem.state[p]).toBe(FRAME_TAIL);
      const old = bad.mem.headOf[p]!;
      bad.mem.headOf[p] = p;
      try {
        expect(checkRmap(good.ctx)).toEqual([]);
        expect(() => checkRmap(bad.ctx)).toThrow();
        expect(() => checkRmapReference(bad.ctx)).toThrow();
        expect(checkRmap(good.ctx)).toEqual([]);
      } finally {
        bad.mem.headOf[p] = old;
      }
      expect(checkRmap(bad.ctx)).toEqual([]);
    }
  });
});
