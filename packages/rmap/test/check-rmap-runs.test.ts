import {
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_HOLE,
  FRAME_TAIL,
  folioAlloc,
  frameView,
} from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { describe, expect, it } from 'vitest';
import { checkRmap, checkRmapReference } from '../src/internal.js';
import { writtenAnonMachine } from './helpers.js';

/*
 * Two shortcuts of the rmap check, tested against the frame-by-frame reference:
 * - the full check's frame walk passes over the tails of a large folio no mapping counts
 *   (allocated, never mapped) as one run, which must end where the folio's groups of eight
 *   tails naming it end, and stop at a group that is anything else;
 * - the frame walk passes over an aligned word of eight states none of which is a head or a
 *   tail (a free block's first frame among free frames), which must not pass over a word
 *   with one head or one tail at any of its eight positions;
 * - the incremental pass finds the marked frames four words of marks at a time, which must
 *   find a mark at every position of those 32 frames and at the end of the memory map.
 */

/** A machine with 24 anonymous pages written (one page table, recorded by an incremental pass). */
function machine(nodes: readonly number[] = [4096, 4096]) {
  // Node 1's last frames stay free.
  const { ctx } = writtenAnonMachine(nodes);
  return { ctx, mem: memmapOf(ctx.mem) };
}

type Scene = ReturnType<typeof machine>;

/** Sets `arr[i]` for each `[arr, i, value]`, runs `body`, then puts the old values back. */
function withValues(
  writes: readonly (readonly [{ [i: number]: number }, number, number])[],
  body: () => void,
): void {
  const old = writes.map(([arr, i]) => arr[i]!);
  for (const [arr, i, value] of writes) arr[i] = value;
  try {
    body();
  } finally {
    for (let k = writes.length - 1; k >= 0; k--) {
      const [arr, i] = writes[k]!;
      arr[i] = old[k]!;
    }
  }
}

/** Frame `p` made a live order-0 folio with refcount -1 (which the check must report). */
function liveFolioAt(s: Scene, p: number) {
  return [
    [s.mem.state, p, FRAME_HEAD],
    [s.mem.order, p, 0],
    [s.mem.headOf, p, p],
    [s.mem.refcount, p, -1],
  ] as const;
}

function expectThrowsAsReference(s: Scene): void {
  expect(() => checkRmap(s.ctx)).toThrow();
  expect(() => checkRmapReference(s.ctx)).toThrow();
}

describe("the full check's run over an unmapped large folio's tails", () => {
  it('reports a tail naming itself in the first, a middle and the last group of the folio, and just past it', () => {
    const s = machine();
    for (const order of [4, 9]) {
      const head = folioAlloc(s.ctx.mem, order, 1);
      expect(head).toBeGreaterThan(0);
      const end = head + (1 << order);
      expect(checkRmap(s.ctx)).toEqual([]);
      expect(checkRmapReference(s.ctx)).toEqual([]);
      const groups = order === 4 ? [8] : [8, 256, 504];
      for (const g of groups) {
        for (let j = 0; j < 8; j++) {
          const p = head + g + j;
          expect(s.mem.state[p]).toBe(FRAME_TAIL);
          withValues([[s.mem.headOf, p, p]], () => expectThrowsAsReference(s));
        }
      }
      // The eight frames past the folio made tails of it, one of them naming itself: a run
      // that went past the folio's last group would pass over them.
      expect(s.mem.state[end]).not.toBe(FRAME_TAIL);
      const past = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((q) => [
        [s.mem.state, end + q, FRAME_TAIL] as const,
        [s.mem.headOf, end + q, head] as const,
      ]);
      for (let j = 0; j < 8; j++) {
        withValues([...past, [s.mem.headOf, end + j, end + j]], () => expectThrowsAsReference(s));
      }
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it('stops at a group that is not eight tails of the folio: a live folio there is reported', () => {
    const s = machine();
    const head = folioAlloc(s.ctx.mem, 9, 1);
    expect(head).toBeGreaterThan(0);
    for (const p of [head + 8, head + 15, head + 200, head + 511]) {
      withValues(liveFolioAt(s, p), () => {
        const found = checkRmap(s.ctx);
        expect(found.join('\n')).toMatch(/refcount -1 below the 0/);
        expect(found).toEqual(checkRmapReference(s.ctx));
      });
    }
    // A group of tails naming another head, one of them naming itself.
    const g = head + 64;
    const other = [0, 1, 2, 3, 4, 5, 6, 7].map((q) => [s.mem.headOf, g + q, head + 1] as const);
    for (let j = 0; j < 8; j++) {
      withValues([...other, [s.mem.headOf, g + j, g + j]], () => expectThrowsAsReference(s));
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });
});

describe('the frame walk over words without a head or a tail', () => {
  it('reports a live folio, and throws for a tail naming itself, at each position of such words', () => {
    const s = machine();
    const { state } = s.mem;
    // Aligned words of free frames and free blocks' first frames, not all free.
    const words: number[] = [];
    for (let p = 0; p + 8 <= state.length && words.length < 3; p++) {
      if ((state.byteOffset + p) % 8 !== 0) continue;
      const w = Array.from(state.subarray(p, p + 8));
      if (
        w.every((x) => x !== FRAME_HEAD && x !== FRAME_TAIL && x !== FRAME_HOLE) &&
        w.some((x) => x !== FRAME_FREE)
      )
        words.push(p);
    }
    expect(words.length).toBe(3);
    for (const first of words) {
      for (let j = 0; j < 8; j++) {
        const p = first + j;
        withValues(liveFolioAt(s, p), () => {
          const found = checkRmap(s.ctx);
          expect(found.join('\n')).toMatch(/refcount -1 below the 0/);
          expect(found).toEqual(checkRmapReference(s.ctx));
        });
        withValues(
          [
            [state, p, FRAME_TAIL],
            [s.mem.headOf, p, p],
          ],
          () => expectThrowsAsReference(s),
        );
      }
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });
});

describe("the incremental pass's scan of the change marks", () => {
  // The last node's size leaves the machine's marks a multiple of four words long, two words
  // past one, or two words and four frames.
  it.each([4096, 4048, 4052])(
    'finds a marked frame at each of 32 positions of a block of marks and in the last frames (last node %i pages)',
    (last) => {
      const s = machine([4096, last]);
      const marks = frameView(s.ctx.mem).rmapWritten;
      const n = marks.length;
      // 32 free frames whose marks start a block of four aligned words, and the last 40 frames.
      let first = 3000;
      while ((marks.byteOffset + first) % 32 !== 0) first++;
      const frames = Array.from({ length: 32 }, (_, j) => first + j);
      for (let p = n - 40; p < n; p++) frames.push(p);
      const tried: number[] = [];
      for (const p of frames) {
        if (s.mem.state[p] !== FRAME_FREE) continue;
        // A sound incremental pass first (from scratch after the last finding), so that the
        // next one reads the marks.
        expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
        expect(s.ctx.rmapCheck?.sound).toBe(true);
        withValues([...liveFolioAt(s, p), [marks, p, 1]], () => {
          const found = checkRmap(s.ctx, { incremental: true });
          expect(found.join('\n')).toMatch(/refcount -1 below the 0/);
          expect(found).toEqual(checkRmapReference(s.ctx));
        });
        tried.push(p);
      }
      // Free frames (the others hold the machine's pages): most of them, the last word too.
      expect(tried.length).toBeGreaterThanOrEqual(48);
      expect(tried.some((p) => p >= n - 8)).toBe(true);
      expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    },
  );
});
