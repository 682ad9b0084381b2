import { FRAME_FREE, FRAME_HEAD } from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { describe, expect, it } from 'vitest';
import { checkRmap, checkRmapReference } from '../src/internal.js';
import { writtenAnonMachine } from './helpers.js';

/*
 * The full check's frame walk passes over a run of free words four words (32 frames) at a
 * time where all four hold free frames: a live folio at any position of any of the four
 * words, or of the words after a chain, must stop the run, as the frame-by-frame reference
 * finds it.
 */

describe("the full check's run of free words, four at a time", () => {
  it('reports a live folio at every position of three chains of four free words', () => {
    const { ctx } = writtenAnonMachine([4096, 4096]);
    const mem = memmapOf(ctx.mem);
    const { state } = mem;
    // A run of 16 words of free frames, aligned in the states' buffer, after a free word.
    const isFreeWord = (p: number) => {
      for (let i = 0; i < 8; i++) if (state[p + i] !== FRAME_FREE) return false;
      return true;
    };
    let start = -1;
    for (let p = 8 - ((state.byteOffset + 8) & 7); p + 17 * 8 <= mem.maxPfn; p += 8) {
      let ok = true;
      for (let w = 0; w < 17 && ok; w++) ok = isFreeWord(p + 8 * w);
      if (ok) {
        start = p + 8;
        break;
      }
    }
    expect(start).toBeGreaterThan(0);
    expect(checkRmap(ctx)).toEqual([]);
    for (let w = 0; w < 12; w++) {
      for (const i of [0, 3, 4, 7]) {
        const p = start + 8 * w + i;
        const saved = [state[p]!, mem.order[p]!, mem.headOf[p]!, mem.refcount[p]!] as const;
        state[p] = FRAME_HEAD;
        mem.order[p] = 0;
        mem.headOf[p] = p;
        mem.refcount[p] = -1;
        try {
          const problems = checkRmap(ctx);
          expect(problems.join('\n'), `word ${w} frame ${i}`).toMatch(/refcount -1 below/);
          expect(problems).toEqual(checkRmapReference(ctx));
        } finally {
          [state[p], mem.order[p], mem.headOf[p], mem.refcount[p]] = saved;
        }
      }
    }
    expect(checkRmap(ctx)).toEqual([]);
  });
});
