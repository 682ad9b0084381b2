import {
  type MigrateReason,
  MR_COMPACTION,
  MR_CONTIG_RANGE,
  MR_DEMOTION,
  MR_LONGTERM_PIN,
  MR_MEMORY_FAILURE,
  MR_MEMORY_HOTPLUG,
  MR_NUMA_MISPLACED,
} from '@mmsim/migrate';

/**
 * The `migrate_reason` each caller passes to `migrate_pages()` (include/linux/migrate_mode.h,
 * 6.3), by caller name.
 */
export const CALLER_REASONS: Readonly<Record<string, MigrateReason>> = Object.freeze({
  compaction: MR_COMPACTION,
  'numa-balancing': MR_NUMA_MISPLACED,
  demotion: MR_DEMOTION,
  'memory-hotplug': MR_MEMORY_HOTPLUG,
  'longterm-pin': MR_LONGTERM_PIN,
  cma: MR_CONTIG_RANGE,
  'soft-offline': MR_MEMORY_FAILURE,
});
