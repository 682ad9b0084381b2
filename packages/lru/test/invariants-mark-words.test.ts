import { type Folio, folioClearFlag, folioSetFlag, LRU_MARK_SHIFT, PG_lru } from '@mmsim/folio';
import { describe, expect, test } from 'vitest';
import { checkLru, lruStateOf, reportLru } from '../src/internal.js';
import { anonFolio, createLruMachine, onCpu, runScript } from '../src/testing/index.js';

/*
 * The incremental pass reads the memmap's `lruWritten` marks four words (32 groups) at a
 * time, then word by word, then group by group, and the words past the last four one at a
 * time. A folio in any group of any word must be looked at again when a writer marks it.
 * Small nodes with every frame a listed folio put a folio in each group of the first two
 * groups of four words and of the two words after the last group of four.
 */
const INCREMENTAL = { scanMemory: false, incremental: true } as const;

function fullMachine() {
  const m = createLruMachine({ nodes: [128, 24] });
  const s = lruStateOf(m.lru.view);
  const folios: Folio[] = [];
  for (const nid of [0, 1]) {
    for (;;) {
      try {
        folios.push(anonFolio(m.mem, nid));
      } catch {
        break;
      }
    }
  }
  runScript(m, function* () {
    yield* onCpu(m.rt, 0, function* () {
      for (const f of folios) yield* m.lru.folioAddLru(f);
      yield* m.lru.lruAddDrain();
    });
  });
  expect(checkLru(s, INCREMENTAL)).toEqual([]);
  s.lruCheck!.framesPerListedFolio = Number.POSITIVE_INFINITY;
  return { m, s, folios };
}

describe('the incremental LRU pass reads every word of marks', () => {
  test('a folio of any group, in any word, cleared of PG_lru through the setter is found; put back it passes', () => {
    const { m, s, folios } = fullMachine();
    const words = s.lruWritten.length / 8;
    // Node 1 starts at pfn 1024: 1,048 frames, 524 groups, 66 words, the last two after
    // the 16 groups of four.
    expect(words).toBe(66);
    const wordsMet = new Set(folios.map((f) => f >>> (LRU_MARK_SHIFT + 3)));
    expect([...wordsMet].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 64, 65]);
    // A folio in every group of those words (pfn 0 is not given out; pfn 1 shares its group).
    const groups = new Set(folios.map((f) => f >>> LRU_MARK_SHIFT));
    expect(groups.size).toBe(64 + 12);
    for (const f of folios) {
      // A sound recorded pass, then the corruption through the flag setter (it marks).
      expect(checkLru(s, INCREMENTAL)).toEqual([]);
      expect(checkLru(s, INCREMENTAL)).toEqual([]);
      expect(s.lruCheck!.sound).toBe(true);
      folioClearFlag(m.mem, f, PG_lru);
      const report = reportLru(s, { scanMemory: false });
      expect(report).toHaveLength(1);
      expect(checkLru(s, INCREMENTAL)).toEqual(report);
      // Put back through the setter: the next passes (whole, then incremental) accept it.
      folioSetFlag(m.mem, f, PG_lru);
    }
    expect(checkLru(s, INCREMENTAL)).toEqual([]);
    expect(checkLru(s, INCREMENTAL)).toEqual([]);
    expect(s.lruCheck!.sound).toBe(true);
  });
});
