/**
 * @mmsim/callers: the callers of `migrate_pages()` as the kernel has them, each with its own
 * isolation rules, migrate mode, reason, rate limits, counters and tracepoints, usable as
 * actors on a machine: compaction (kcompactd, direct, compact_memory), NUMA balancing,
 * memory tiering (demotion from reclaim, promotion), memory hotplug offline, longterm
 * pinning and CMA.
 */

export {
  type CmaActorStats,
  type CmaAllocActorOptions,
  cmaActorStats,
  cmaAllocActor,
} from './cma/actor.js';
export {
  allocContigMigrateRange,
  allocContigRange,
  Cma,
  type CmaAllocOptions,
  type ContigMigrateStats,
  cmaAlloc,
  cmaArea,
  cmaAreas,
  cmaRelease,
} from './cma/cma.js';
export {
  CMA_ALLOC_BUSY_RETRY,
  CMA_ALLOC_FINISH,
  CMA_ALLOC_START,
  CMA_RELEASE,
  type CmaAllocClass,
  type CmaAllocStart,
  type CmaReleaseEvent,
  MM_ALLOC_CONTIG_MIGRATE_RANGE_INFO,
  type MmAllocContigMigrateRangeInfo,
} from './cma/tracepoints.js';
export * from './compaction/index.js';
export {
  memoryBlockRange,
  type OfflinePagesActorOptions,
  offlinePagesActor,
} from './hotplug/actor.js';
export {
  doMigrateRange,
  type HotplugTargetControl,
  hotplugAllocTarget,
  hotplugTargetControl,
  type OfflineFailure,
  type OfflinePagesOptions,
  type OfflineStats,
  offlinePages,
  offlineStats,
  scanMovablePages,
} from './hotplug/offline-pages.js';
export {
  compactionSkipsFolio,
  ISOLATION_DONE,
  ISOLATION_FAILED,
  ISOLATION_GENERAL,
  ISOLATION_HELD,
  ISOLATION_PUT,
  isolateForMigration,
  isolateForMigrationFinish,
  isolateForMigrationStart,
  isolateLruFolioHeld,
  skipIsolationOnOrder,
} from './isolate.js';
export * from './longterm-pin/index.js';
export {
  allocMisplacedDstFolio,
  DEFAULT_NUMA_BALANCING_SYSCTLS,
  type MigrateMisplacedOptions,
  migrateMisplacedFolio,
  NUMA_BALANCING_DISABLED,
  NUMA_BALANCING_MEMORY_TIERING,
  NUMA_BALANCING_NORMAL,
  NumaBalancing,
  type NumaBalancingStats,
  type NumaBalancingSysctls,
  type NumaRefusals,
  nodeIsToptier,
  type TaskNumaWorkOptions,
  taskNumaWork,
} from './numa/numa-balancing.js';
export {
  TEST_PAGES_ISOLATED,
  type TestPagesIsolated,
  testPagesIsolated,
} from './page-isolation.js';
export { CALLER_REASONS } from './reasons.js';
export {
  allocDemoteFolio,
  type DemotionResult,
  demoteFolioList,
  type KswapdDemoteOptions,
  kswapdDemote,
} from './tiering/demotion.js';
export {
  type DemotionTargets,
  defaultNodeDistances,
  establishDemotionTargets,
  kernelDemotionTargets,
  LOCAL_DISTANCE,
  REMOTE_DISTANCE,
} from './tiering/demotion-targets.js';
