import { MmsimError, type RandomStream } from '@mmsim/runtime';

/**
 * Which page of an area an access touches next:
 * - `'sequential'`: 0, 1, 2, ... wrapping around (a streaming pass);
 * - `'random'`: uniform over the area;
 * - `'hot-set'`: with probability `hotFraction` (default 0.9) one of the first `hotPages`
 *   pages (default an eighth of the area, at least 1), otherwise uniform: pmbench's
 *   skewed working set.
 */
export type AccessPattern =
  | 'sequential'
  | 'random'
  | 'hot-set'
  | { readonly kind: 'hot-set'; readonly hotPages?: number; readonly hotFraction?: number };

/** Returns a function giving the page index of access number `n` (0-based). */
export function pagePicker(
  pattern: AccessPattern,
  pages: number,
  rng: RandomStream,
): (n: number) => number {
  if (!Number.isInteger(pages) || pages < 1) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `an access area needs pages >= 1, got ${String(pages)}`,
    );
  }
  if (pattern === 'sequential') return (n) => n % pages;
  if (pattern === 'random') return () => rng.int(0, pages - 1);
  const spec: { kind?: unknown; hotPages?: number; hotFraction?: number } =
    pattern === 'hot-set' ? { kind: 'hot-set' } : (pattern as object);
  if (typeof spec !== 'object' || spec === null || spec.kind !== 'hot-set') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `pattern must be 'sequential', 'random', 'hot-set' or { kind: 'hot-set', hotPages?, hotFraction? }, got ${JSON.stringify(pattern)}`,
    );
  }
  const hot = Math.min(pages, Math.max(1, spec.hotPages ?? Math.floor(pages / 8)));
  const fraction = spec.hotFraction ?? 0.9;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `hotFraction must be in [0, 1], got ${String(fraction)}`,
    );
  }
  return () => (rng.chance(fraction) ? rng.int(0, hot - 1) : rng.int(0, pages - 1));
}
