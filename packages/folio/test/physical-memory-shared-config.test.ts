import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  folioAlloc,
  folioNid,
  nodeDistance,
  nodeFallbackOrder,
  nodeSpannedPages,
  type PhysicalMemoryConfig,
} from '../src/index.js';

// A configuration frozen all through is checked once and its machines share the distance
// and fallback tables (an explorer builds a machine per schedule); anything its owner can
// still change is checked and laid out again for every machine.

const TABLE = [
  [10, 40, 20],
  [40, 10, 30],
  [20, 30, 10],
];

function frozenConfig(): PhysicalMemoryConfig {
  return Object.freeze({
    nodes: Object.freeze([
      Object.freeze({ pages: 256 }),
      Object.freeze({ pages: 256 }),
      Object.freeze({ pages: 256 }),
    ]),
    distances: Object.freeze(TABLE.map((row) => Object.freeze([...row]))),
  });
}

describe('createPhysicalMemory: a configuration built again', () => {
  test('machines of one frozen configuration are alike and independent', () => {
    const config = frozenConfig();
    const a = createPhysicalMemory(config);
    const b = createPhysicalMemory(config);
    expect(nodeFallbackOrder(a, 0)).toEqual([0, 2, 1]);
    expect(nodeFallbackOrder(b, 0)).toEqual([0, 2, 1]);
    expect(nodeDistance(b, 1, 2)).toBe(30);
    // Filling node 0 of one machine leaves the other's node 0 alone.
    while (folioAlloc(a, 0, 0, { thisNode: true }) >= 0);
    const fromA = folioAlloc(a, 0, 0);
    expect(folioNid(a, fromA)).toBe(2);
    expect(folioNid(b, folioAlloc(b, 0, 0))).toBe(0);
  });

  test('a distance table its owner changes between machines orders the next one anew', () => {
    const distances = TABLE.map((row) => [...row]);
    const config = { nodes: [{ pages: 256 }, { pages: 256 }, { pages: 256 }], distances };
    expect(nodeFallbackOrder(createPhysicalMemory(config), 0)).toEqual([0, 2, 1]);
    distances[0]![1] = 15;
    const again = createPhysicalMemory(config);
    expect(nodeFallbackOrder(again, 0)).toEqual([0, 1, 2]);
    expect(nodeDistance(again, 0, 1)).toBe(15);
  });

  test('a configuration its owner changes between machines is checked and laid out again', () => {
    const nodes = [{ pages: 256 }, { pages: 256 }];
    const config = { nodes };
    expect(nodeSpannedPages(createPhysicalMemory(config), 1)).toBe(256);
    nodes[1] = { pages: 512 };
    expect(nodeSpannedPages(createPhysicalMemory(config), 1)).toBe(512);
    nodes[1] = { pages: 0 };
    expect(() => createPhysicalMemory(config)).toThrow(/nodes\[1\]\.pages/);
  });

  test('a frozen table with a row its owner can change is not shared', () => {
    const row = [40, 10, 30];
    const distances = Object.freeze([
      Object.freeze([10, 40, 20]),
      row,
      Object.freeze([20, 30, 10]),
    ]);
    const config = { nodes: [{ pages: 256 }, { pages: 256 }, { pages: 256 }], distances };
    expect(nodeFallbackOrder(createPhysicalMemory(config), 1)).toEqual([1, 2, 0]);
    row[0] = 25;
    expect(nodeFallbackOrder(createPhysicalMemory(config), 1)).toEqual([1, 0, 2]);
  });
});
