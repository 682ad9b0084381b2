import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  folioAlloc,
  folioCopyContents,
  folioPut,
  pageContent,
  setPageContent,
} from '../src/index.js';
import { expectMisuse } from './helpers.js';

describe('content words', () => {
  test('each page keeps its own word and folio_copy copies all of them', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    const src = folioAlloc(mem, 3, 0);
    const dst = folioAlloc(mem, 3, 0);
    for (let i = 0; i < 8; i++) setPageContent(mem, src + i, 100 + i);
    folioCopyContents(mem, dst, src);
    for (let i = 0; i < 8; i++) expect(pageContent(mem, dst + i)).toBe(100 + i);
    setPageContent(mem, src + 1, -5.5);
    expect(pageContent(mem, dst + 1)).toBe(101);
  });

  test('misuse changes nothing', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    const a = folioAlloc(mem, 1, 0);
    const b = folioAlloc(mem, 2, 0);
    expectMisuse(
      mem,
      () => folioCopyContents(mem, b, a),
      'INVALID_ARGUMENT',
      /has 4 pages but src .* has 2/,
    );
    expectMisuse(mem, () => setPageContent(mem, a, Number.NaN), 'INVALID_ARGUMENT', /finite/);
    expectMisuse(mem, () => setPageContent(mem, a, Number.POSITIVE_INFINITY), 'INVALID_ARGUMENT');
    expectMisuse(mem, () => setPageContent(mem, mem.zeroPfn, 1), 'CONTRACT_VIOLATION', /zero page/);
    const z = folioAlloc(mem, 0, 0);
    expectMisuse(
      mem,
      () => folioCopyContents(mem, mem.zeroPfn, z),
      'CONTRACT_VIOLATION',
      /zero page/,
    );
    folioPut(mem, a);
    expectMisuse(mem, () => pageContent(mem, a + 1), 'USE_AFTER_FREE');
    expectMisuse(mem, () => folioCopyContents(mem, a, a), 'USE_AFTER_FREE');
  });
});
