import { MR_COMPACTION, MR_DEMOTION, MR_NUMA_MISPLACED, migrateReasonName } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import { CALLER_REASONS } from '../src/index.js';

describe('CALLER_REASONS', () => {
  it('names the reason each caller passes, as the kernel spells it', () => {
    expect(CALLER_REASONS.compaction).toBe(MR_COMPACTION);
    expect(CALLER_REASONS['numa-balancing']).toBe(MR_NUMA_MISPLACED);
    expect(CALLER_REASONS.demotion).toBe(MR_DEMOTION);
    expect(migrateReasonName(CALLER_REASONS.cma ?? MR_COMPACTION)).toBe('contig_range');
  });
});
