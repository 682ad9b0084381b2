import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../src/index.js';
import { checkRmap, checkRmapReference } from '../src/internal.js';
import { writtenAnonMachine } from './helpers.js';

/*
 * The full check tests a VMA's bounds for page alignment without a `%` of doubles
 * (`pageAligned` in invariants.ts): it must report every bound the reference's `%` reports
 * (a fraction, NaN, the infinities, a bound off by a byte or half a page) and pass aligned
 * bounds at user addresses past 2^32.
 */

function machine() {
  const { ctx } = writtenAnonMachine([1024, 1024]);
  const vma = [...ctx.mms][0]!.vmas[0]!;
  return { ctx, vma };
}

describe("the full check's VMA bounds", () => {
  it('passes a VMA whose aligned bounds lie past 2^32', () => {
    const { ctx, vma } = machine();
    expect(vma.start).toBeGreaterThan(2 ** 32);
    expect(checkRmap(ctx)).toEqual([]);
    expect(checkRmapReference(ctx)).toEqual([]);
  });

  const bad: readonly [string, 'start' | 'end', (x: number) => number][] = [
    ['a start one byte past a page', 'start', (x) => x + 1],
    ['a start half a page past', 'start', (x) => x + PAGE_SIZE / 2],
    ['a start with a fraction', 'start', (x) => x + 0.5],
    ['a start 2^32 + 1 past', 'start', (x) => x + 2 ** 32 + 1],
    ['a start of -Infinity', 'start', () => Number.NEGATIVE_INFINITY],
    ['a start of NaN', 'start', () => Number.NaN],
    ['an end one byte short', 'end', (x) => x - 1],
    ['an end with a fraction', 'end', (x) => x - 0.25],
    ['an end of +Infinity', 'end', () => Number.POSITIVE_INFINITY],
    ['an end of NaN', 'end', () => Number.NaN],
  ];
  it('reports each unaligned or broken bound, as the reference does', () => {
    const { ctx, vma } = machine();
    for (const [name, field, value] of bad) {
      const old = vma[field];
      vma[field] = value(old);
      try {
        const problems = checkRmap(ctx);
        expect(problems.join('\n'), name).toMatch(/bad bounds/);
        expect(problems, name).toEqual(checkRmapReference(ctx));
      } finally {
        vma[field] = old;
      }
      expect(checkRmap(ctx), name).toEqual([]);
    }
  });
});
