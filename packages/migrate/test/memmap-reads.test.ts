import {
  folioAlloc,
  folioNid,
  folioNrPages,
  folioPut,
  folioTestHugetlb,
  nodeFreePages,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createMigrateMachine } from '../src/testing/index.js';

/**
 * The migrate core reads a folio's fields through `memmapReader` (unchecked) once the folio
 * is known to be a live head, and calls the checked accessor otherwise, for its error. These
 * tests give the core frames that are not live heads: an unchecked read would take a free
 * frame's or a tail's stale fields for a folio's (and, here, allocate a target of a made-up
 * size) instead of reporting the misuse.
 */
function errorOf(f: () => unknown): MmsimError {
  try {
    f();
  } catch (error) {
    if (error instanceof MmsimError) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

describe('memmap reads of the migrate core keep the accessors’ errors', () => {
  it('alloc_migration_target of a freed folio or a tail page throws what the accessor throws, allocating nothing', () => {
    const m = createMigrateMachine();
    const mem = m.mem;
    const large = folioAlloc(mem, 2, 0); // four pages: pfns large+1..large+3 are tails
    const freed = folioAlloc(mem, 0, 0);
    folioPut(mem, freed); // back in the buddy allocator
    const free0 = nodeFreePages(mem, 0);
    const free1 = nodeFreePages(mem, 1);
    for (const pfn of [freed, large + 1]) {
      const expected = errorOf(() => folioTestHugetlb(mem, pfn));
      const got = errorOf(() => m.core.allocMigrationTarget(pfn, { nid: 1 }));
      expect(got.code).toBe(expected.code);
      expect(got.message).toBe(expected.message);
      // The checked accessors all report a bad folio alike.
      expect(errorOf(() => folioNrPages(mem, pfn)).message).toBe(expected.message);
    }
    expect(errorOf(() => m.core.allocMigrationTarget(freed, { nid: 1 })).code).toBe(
      'USE_AFTER_FREE',
    );
    expect(nodeFreePages(mem, 0)).toBe(free0);
    expect(nodeFreePages(mem, 1)).toBe(free1);
  });

  it('alloc_migration_target reads a live head’s order: a target of the same size, on the node asked', () => {
    const m = createMigrateMachine();
    const mem = m.mem;
    for (const order of [0, 1, 3, 9]) {
      const src = folioAlloc(mem, order, 0);
      const dst = m.core.allocMigrationTarget(src, { nid: 1, thisNode: true });
      expect(dst).not.toBeNull();
      expect(folioNrPages(mem, dst as number)).toBe(1 << order);
      expect(folioNid(mem, dst as number)).toBe(1);
      folioPut(mem, dst as number);
      folioPut(mem, src);
    }
  });
});
