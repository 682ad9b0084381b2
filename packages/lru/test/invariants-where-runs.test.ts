import type { Folio } from '@mmsim/folio';
import { describe, expect, test } from 'vitest';
import { lruLooksSound, lruStateOf, reportLru } from '../src/internal.js';
import { anonFolio, createLruMachine } from '../src/testing/index.js';

/*
 * The memory scan reads the WHERE marks 32 frames at a time as integer words: a run is
 * passed over only when every byte of it is 0, whatever a stray byte holds (read as a
 * float64, a word whose only set byte is 0x80 in its top place is -0, equal to 0).
 */
describe('the memory scan of the WHERE marks', () => {
  test('a stray mark of any value in any byte of a run is found; cleared it passes', () => {
    const m = createLruMachine({ nodes: [64, 64] });
    const s = lruStateOf(m.lru.view);
    const folios: Folio[] = [];
    for (let i = 0; i < 32; i++) folios.push(anonFolio(m.mem, 0));
    expect(lruLooksSound(s, true)).toBe(true);
    const tops = folios.filter((f) => f % 8 === 7);
    expect(tops.length).toBeGreaterThan(0);
    for (const f of folios) {
      for (const value of [1, 3, 0x80, 0xff]) {
        s.where[f] = value;
        expect(lruLooksSound(s, true)).toBe(false);
        expect(reportLru(s).join('\n')).toContain(`pfn ${f} is marked ${value}`);
      }
      s.where[f] = 0;
      expect(lruLooksSound(s, true)).toBe(true);
    }
  });
});
