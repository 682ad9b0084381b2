import { createKernel } from '@mmsim/kernel';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  defaultNodeDistances,
  establishDemotionTargets,
  kernelDemotionTargets,
} from '../src/index.js';

describe('establish_demotion_targets (mm/memory-tiers.c, 6.3)', () => {
  it('a two-tier machine: the CPU node demotes to the CPU-less node, which has no target', () => {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256, cpus: 0 }] });
    expect(kernelDemotionTargets(k)).toEqual([
      { preferred: [1], allowed: [1] },
      { preferred: [], allowed: [] },
    ]);
  });

  it('prefers the nearest slow node by distance and keeps the others as fallback', () => {
    // nodes 0, 1 with CPUs; 2, 3 CPU-less; 2 is near 1, 3 is near 0
    const d = [
      [10, 20, 30, 17],
      [20, 10, 17, 30],
      [30, 17, 10, 20],
      [17, 30, 20, 10],
    ];
    const t = establishDemotionTargets([true, true, false, false], d);
    expect(t[0]).toEqual({ preferred: [3], allowed: [3, 2] });
    expect(t[1]).toEqual({ preferred: [2], allowed: [2, 3] });
  });

  it('every slow node at the best distance is preferred (the default table)', () => {
    const t = establishDemotionTargets([true, false, false], defaultNodeDistances(3));
    expect(t[0]).toEqual({ preferred: [1, 2], allowed: [1, 2] });
  });

  it('no CPU-less node: no demotion target anywhere', () => {
    expect(establishDemotionTargets([true, true])).toEqual([
      { preferred: [], allowed: [] },
      { preferred: [], allowed: [] },
    ]);
  });

  it('rejects a bad distance table with a typed error', () => {
    expect(() => establishDemotionTargets([true, false], [[10, 20]])).toThrow(MmsimError);
    expect(() =>
      establishDemotionTargets(
        [true, false],
        [
          [12, 20],
          [20, 10],
        ],
      ),
    ).toThrow(MmsimError);
    expect(() =>
      establishDemotionTargets(
        [true, false],
        [
          [10, 5],
          [20, 10],
        ],
      ),
    ).toThrow(MmsimError);
  });
});
