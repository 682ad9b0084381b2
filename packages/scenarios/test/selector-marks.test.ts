import { createKernel } from '@mmsim/kernel';
import { MIGRATE_SYNC_LIGHT, MR_COMPACTION } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import { concatSelectors, givenFolios, migrator, nodeScan } from '../src/index.js';

/**
 * A compaction migrator declares its footprints only over a selector that records its
 * reads (`nodeScan`'s mark): each machine's `nodeScan` selector carries the mark, and no
 * other selector does, whichever machine made it.
 */
describe('the recording mark of selectors', () => {
  const compaction = (
    k: ReturnType<typeof createKernel>,
    select: Parameters<typeof migrator>[1]['select'],
  ) =>
    migrator(k, {
      name: 'kcompactd0',
      cpu: 0,
      mode: MIGRATE_SYNC_LIGHT,
      reason: MR_COMPACTION,
      rounds: 1,
      style: 'compaction',
      select,
    });

  it('a compaction migrator declares its footprints over nodeScan, of every machine, and over nothing else', () => {
    for (let machine = 0; machine < 3; machine++) {
      const k = createKernel({ nodes: [{ pages: 64 }, { pages: 64 }], cpusPerNode: 1 });
      expect(compaction(k, nodeScan(k, 0)).declaresFootprints, `machine ${machine}`).toBe(true);
      expect(
        compaction(
          k,
          nodeScan(k, () => 1),
        ).declaresFootprints,
      ).toBe(true);
      expect(
        compaction(
          k,
          givenFolios(() => []),
        ).declaresFootprints,
      ).toBe(false);
      expect(compaction(k, concatSelectors(nodeScan(k, 0))).declaresFootprints).toBe(false);
      const plain = (() => []) as Parameters<typeof migrator>[1]['select'];
      expect(compaction(k, plain).declaresFootprints).toBe(false);
    }
  });
});
