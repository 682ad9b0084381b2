import type { Folio } from '@mmsim/folio';

/**
 * A replacement LRU part for `createKernel({ parts: { lru } })` that forwards everything to
 * `base` and counts the `folioPut` calls it sees in `puts.n`: tests of the plain (no
 * generator) paths use it to show that a replaced LRU still receives every put, that is,
 * that a plain path did not bypass the part with the kernel's own fast put.
 */
export function countingFolioPuts<T extends object>(base: T, puts: { n: number }): T {
  return new Proxy(base, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      if (key !== 'folioPut') return value.bind(target);
      return (folio: Folio) => {
        puts.n++;
        return value.call(target, folio);
      };
    },
  });
}
