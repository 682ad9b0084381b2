import {
  folioAlloc,
  folioNid,
  nodeDistance,
  nodeFallbackOrder,
  nodeMemoryCosts,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, resolveKernelConfig } from '../src/index.js';

const FOUR = [{ pages: 512 }, { pages: 512 }, { pages: 512 }, { pages: 512 }];

describe('the distance table of the machine config (the SLIT)', () => {
  it('orders each node’s allocation fallback nearest first', () => {
    const k = createKernel({
      nodes: FOUR,
      distances: [
        [10, 40, 20, 30],
        [40, 10, 30, 20],
        [20, 30, 10, 40],
        [30, 20, 40, 10],
      ],
    });
    expect(nodeFallbackOrder(k.mem, 0)).toEqual([0, 2, 3, 1]);
    expect(nodeFallbackOrder(k.mem, 1)).toEqual([1, 3, 2, 0]);
    expect(nodeDistance(k.mem, 2, 3)).toBe(40);
    // Fill node 0: the next order-0 allocation for node 0 comes from node 2, not node 1.
    while (true) {
      const f = folioAlloc(k.mem, 0, 0, { thisNode: true });
      if (f < 0) break;
    }
    const next = folioAlloc(k.mem, 0, 0);
    expect(next).toBeGreaterThanOrEqual(0);
    expect(folioNid(k.mem, next)).toBe(2);
  });

  it('without a table: 10 local, 20 remote, and the fallback order of before (|i - nid|)', () => {
    const k = createKernel({ nodes: FOUR });
    expect(k.config.distances).toEqual([
      [10, 20, 20, 20],
      [20, 10, 20, 20],
      [20, 20, 10, 20],
      [20, 20, 20, 10],
    ]);
    expect(nodeFallbackOrder(k.mem, 2)).toEqual([2, 1, 3, 0]);
    expect(nodeFallbackOrder(k.mem, 0)).toEqual([0, 1, 2, 3]);
  });

  it('accepts an asymmetric table (slit_valid does not ask for symmetry)', () => {
    const k = createKernel({
      nodes: FOUR.slice(0, 2),
      distances: [
        [10, 21],
        [30, 10],
      ],
    });
    expect(nodeDistance(k.mem, 0, 1)).toBe(21);
    expect(nodeDistance(k.mem, 1, 0)).toBe(30);
  });

  const BAD: Array<[string, unknown, RegExp]> = [
    [
      'a diagonal entry other than 10',
      [
        [11, 20],
        [20, 10],
      ],
      /distances\[0\]\[0\] must be LOCAL_DISTANCE/,
    ],
    [
      'a remote entry of 10',
      [
        [10, 10],
        [20, 10],
      ],
      /distances\[0\]\[1\] must be an integer in \[11, 254\]/,
    ],
    [
      'a remote entry below 10',
      [
        [10, 5],
        [20, 10],
      ],
      /distances\[0\]\[1\]/,
    ],
    [
      'an unreachable (255) entry',
      [
        [10, 255],
        [20, 10],
      ],
      /distances\[0\]\[1\]/,
    ],
    ['a missing row', [[10, 20]], /2x2 table/],
    ['a short row', [[10, 20], [20]], /2x2 table/],
    [
      'a fractional entry',
      [
        [10, 20.5],
        [20, 10],
      ],
      /integer/,
    ],
    ['not a table', 'near', /distances/],
  ];
  for (const [what, distances, message] of BAD) {
    it(`rejects ${what} with INVALID_CONFIG`, () => {
      let error: unknown;
      try {
        resolveKernelConfig({ nodes: FOUR.slice(0, 2), distances } as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MmsimError);
      expect((error as MmsimError).code).toBe('INVALID_CONFIG');
      expect((error as MmsimError).message).toMatch(message);
    });
  }
});

describe('per-node memory cost factors (nodes[i].memory)', () => {
  it('are 1 by default and as given otherwise', () => {
    const k = createKernel({
      nodes: [
        { pages: 256 },
        { pages: 256, cpus: 0, memory: { accessFactor: 2.5, copyFactor: 2 } },
      ],
    });
    expect(nodeMemoryCosts(k.mem, 0)).toEqual({ accessFactor: 1, copyFactor: 1 });
    expect(nodeMemoryCosts(k.mem, 1)).toEqual({ accessFactor: 2.5, copyFactor: 2 });
  });

  for (const memory of [
    { accessFactor: 0.5 },
    { copyFactor: -1 },
    { accessFactor: Number.NaN },
    { speed: 2 },
  ]) {
    it(`rejects ${JSON.stringify(memory)} with INVALID_CONFIG`, () => {
      expect(() => resolveKernelConfig({ nodes: [{ pages: 256, memory } as never] })).toThrow(
        MmsimError,
      );
    });
  }
});
