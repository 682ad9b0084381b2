/**
 * @mmsim/callers: the callers of `migrate_pages()` as the kernel has them, each with its own
 * isolation rules, migrate mode, reason, rate limits, counters and tracepoints, usable as
 * actors on a machine: compaction (kcompactd, direct, compact_memory), NUMA balancing,
 * memory tiering (demotion from reclaim, promotion), memory hotplug offline, longterm
 * pinning and CMA.
 */

export * from './compaction/index.js';
export {
  compactionSkipsFolio,
  isolateForMigration,
  isolateLruFolioHeld,
  skipIsolationOnOrder,
} from './isolate.js';
export { CALLER_REASONS } from './reasons.js';
