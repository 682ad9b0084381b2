import { Runtime } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { PMD_SIZE, TASK_SIZE } from '../src/constants.js';
import { PageTable, pmdBaseHex } from '../src/page-table.js';

/** PMD indices from the bottom to the top of the user address space, boundaries included. */
const INDICES = [
  0,
  1,
  2,
  7,
  8,
  15,
  16,
  0x7ff,
  0x800,
  2 ** 31 / PMD_SIZE,
  2 ** 32 / PMD_SIZE - 1,
  2 ** 32 / PMD_SIZE,
  0x7f00_0000_0000 / PMD_SIZE,
  0x7f00_0000_0000 / PMD_SIZE + 0x1234,
  Math.floor(TASK_SIZE / PMD_SIZE),
];

describe('a page table lock name', () => {
  it('spells the base address as toString(16) of the double would', () => {
    for (const i of INDICES) expect(pmdBaseHex(i)).toBe((i * PMD_SIZE).toString(16));
    // every index of one 64 GiB stretch and a sweep of the whole user range
    for (let i = 0; i < 1 << 15; i++) expect(pmdBaseHex(i)).toBe((i * PMD_SIZE).toString(16));
    const top = Math.floor(TASK_SIZE / PMD_SIZE) + 1;
    for (let i = 1; i < top; i += 4099) expect(pmdBaseHex(i)).toBe((i * PMD_SIZE).toString(16));
  });

  it("names a table's ptl after its owner and base", () => {
    const rt = new Runtime({ cpus: 1, cpuNodes: [0], footprints: null });
    for (const i of INDICES) {
      const table = new PageTable(rt, 'mm 3', i);
      expect(table.base).toBe(i * PMD_SIZE);
      expect(table.ptl.name).toBe(`ptl mm 3 0x${(i * PMD_SIZE).toString(16)}`);
    }
  });
});
