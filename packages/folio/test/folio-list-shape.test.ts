import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, test } from 'vitest';
import { ITERATOR_SHAPE_HOLDER } from '../src/folio-list.js';
import { createPhysicalMemory, FolioList, folioAlloc } from '../src/index.js';

// V8 natives, for this file only: whether two objects share a hidden class, and a full gc().
setFlagsFromString('--allow-natives-syntax');
setFlagsFromString('--expose-gc');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b);') as (
  a: object,
  b: object,
) => boolean;
const gc = runInNewContext('gc') as () => void;
setFlagsFromString('--no-expose-gc');
setFlagsFromString('--no-allow-natives-syntax');

function iteratorOverOneFolio(): Iterator<number> {
  const mem = createPhysicalMemory({ nodes: [{ pages: 512 }] });
  const list = new FolioList(mem);
  list.add(folioAlloc(mem, 0, 0));
  return list[Symbol.iterator]();
}

test('a folio list iterator shares its hidden class with the module shape holder, after a full gc with no iterator alive', () => {
  expect(haveSameMap(iteratorOverOneFolio(), ITERATOR_SHAPE_HOLDER)).toBe(true);
  gc();
  gc();
  const it = iteratorOverOneFolio();
  expect(haveSameMap(it, ITERATOR_SHAPE_HOLDER)).toBe(true);
  expect(it.next().done).toBe(false);
  expect(it.next().done).toBe(true);
});
