import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, test } from 'vitest';
import { MigrateStats, STATS_SHAPE_HOLDER } from '../src/stats.js';

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

test('MigrateStats keeps its hidden class across a full gc with no migrate_pages call alive', () => {
  const first = new MigrateStats();
  first.nrSucceeded += 3;
  expect(haveSameMap(first, STATS_SHAPE_HOLDER)).toBe(true);
  gc();
  gc();
  const next = new MigrateStats();
  expect(haveSameMap(next, STATS_SHAPE_HOLDER)).toBe(true);
  expect(next.snapshot().nrSucceeded).toBe(0);
});
