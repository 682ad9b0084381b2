import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  folioAlloc,
  folioEntireMapcount,
  folioEntireMapcountDec,
  folioEntireMapcountInc,
  folioMapcount,
  folioMapped,
  pageMapcount,
  pageMapcountDec,
  pageMapcountInc,
} from '../src/index.js';
import { expectMisuse, expectSound } from './helpers.js';

describe('mapcount', () => {
  const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });

  test('PTE mappings count per page; folio_mapcount sums them', () => {
    const f = folioAlloc(mem, 2, 0);
    expect(folioMapped(mem, f)).toBe(false);
    pageMapcountInc(mem, f + 1);
    pageMapcountInc(mem, f + 1);
    pageMapcountInc(mem, f + 3);
    expect(pageMapcount(mem, f)).toBe(0);
    expect(pageMapcount(mem, f + 1)).toBe(2);
    expect(pageMapcount(mem, f + 3)).toBe(1);
    expect(folioMapcount(mem, f)).toBe(3);
    expect(folioMapped(mem, f)).toBe(true);
    pageMapcountDec(mem, f + 1);
    pageMapcountDec(mem, f + 1);
    pageMapcountDec(mem, f + 3);
    expect(folioMapcount(mem, f)).toBe(0);
    expect(folioMapped(mem, f)).toBe(false);
    expectSound(mem);
  });

  test('a PMD mapping counts once in the entire mapcount and maps every page', () => {
    const f = folioAlloc(mem, 9, 0);
    folioEntireMapcountInc(mem, f);
    pageMapcountInc(mem, f + 7);
    expect(folioEntireMapcount(mem, f)).toBe(1);
    expect(pageMapcount(mem, f + 100)).toBe(1);
    expect(pageMapcount(mem, f + 7)).toBe(2);
    expect(folioMapcount(mem, f)).toBe(2);
    expect(folioMapped(mem, f)).toBe(true);
    folioEntireMapcountDec(mem, f);
    expect(folioMapcount(mem, f)).toBe(1);
    pageMapcountDec(mem, f + 7);
    expect(folioMapped(mem, f)).toBe(false);
  });

  test('underflows, order-0 PMD mappings and zero-page rmap are refused without a change', () => {
    const f = folioAlloc(mem, 1, 0);
    const small = folioAlloc(mem, 0, 0);
    expectMisuse(mem, () => pageMapcountDec(mem, f + 1), 'COUNT_UNDERFLOW');
    expectMisuse(mem, () => folioEntireMapcountDec(mem, f), 'COUNT_UNDERFLOW');
    expectMisuse(mem, () => folioEntireMapcountInc(mem, small), 'INVALID_ARGUMENT', /order 0/);
    expectMisuse(mem, () => pageMapcountInc(mem, mem.zeroPfn), 'CONTRACT_VIOLATION', /zero page/);
    expectMisuse(mem, () => folioMapcount(mem, f + 1), 'INVALID_ARGUMENT', /tail/);
  });
});
