/**
 * @mmsim/scenarios: what runs on the machine `@mmsim/kernel` builds. Actors (kernel
 * activities written as tasks), the kernel's invariants, the scenario type with
 * `runScenario`, the built-in historic scenarios in one registry, and scenarios as targets
 * of `@mmsim/explore` (with the page-lock inversion check).
 *
 * Helpers the actors and invariants share are in `@mmsim/scenarios/internal`, which may
 * change in any release. (Section comments stand alone so that import sorting keeps the
 * sections.)
 */

// Scenarios: data plus actors, built on a fresh kernel, run once with their invariants.

export {
  bugHistory,
  historyBugVariants,
  instantiateScenario,
  runScenario,
  type Scenario,
  type ScenarioHistory,
  type ScenarioInstance,
  type ScenarioOptions,
  type ScenarioRun,
  type ScenarioWorld,
  scenarioConfig,
  type Violation,
} from './scenario.js';

// The built-in scenarios: the registry, and each factory with its parameters.

export {
  type BatchCopyPartialFailureParams,
  batchCopyPartialFailure,
} from './builtin/batch-copy-partial-failure.js';
export {
  type BatchCopyStaleCopyParams,
  batchCopyStaleCopy,
} from './builtin/batch-copy-stale-copy.js';
export {
  type BatchCopyUnregisterParams,
  batchCopyUnregister,
} from './builtin/batch-copy-unregister.js';
export {
  type BhNorefsLargeFolioParams,
  bhNorefsLargeFolio,
} from './builtin/bh-norefs-large-folio.js';
export {
  type CompactionUnderLoadParams,
  compactionUnderLoad,
} from './builtin/compaction-under-load.js';
export {
  type DeferredSplitChainParams,
  deferredSplitChain,
} from './builtin/deferred-split-chain.js';
export {
  type HugetlbMappedMigrateParams,
  hugetlbMappedMigrate,
} from './builtin/hugetlb-mapped-migrate.js';
export { type KsmMigrateParams, ksmMigrate } from './builtin/ksm-migrate.js';
export {
  LONGTERM_PIN_PINNABLE,
  LONGTERM_PIN_REFUSED,
  type LongtermPinParams,
  longtermPinScenario,
} from './builtin/longterm-pin.js';
export { type LoopBhDeadlockParams, loopBhDeadlock } from './builtin/loop-bh-deadlock.js';
export {
  type LoopWritebackDeadlockParams,
  loopWritebackDeadlock,
} from './builtin/loop-writeback-deadlock.js';
export {
  type MigrateUnderWritesParams,
  migrateUnderWrites,
} from './builtin/migrate-under-writes.js';
export { type MovePagesLoopParams, movePagesLoop } from './builtin/move-pages-loop.js';
export { BUILTIN_PARAM_SCHEMAS, checkScenarioParams } from './builtin/params.js';
export { type PmbenchMigrateParams, pmbenchMigrate } from './builtin/pmbench-migrate.js';
export {
  BUILTIN_SCENARIOS,
  builtinScenario,
  builtinScenarios,
  SCENARIO_NAMES,
  type ScenarioFactory,
  type ScenarioName,
} from './builtin/registry.js';
export { type RfcLockOrderParams, rfcLockOrder } from './builtin/rfc-lock-order.js';
export {
  SHMEM_THP_CACHED_WHOLE,
  type ShmemThpMigrateParams,
  shmemThpMigrate,
} from './builtin/shmem-thp-migrate.js';
export { type SoftOfflineParams, softOffline } from './builtin/soft-offline.js';
export {
  type SplitLockDeadlockParams,
  splitLockDeadlock,
} from './builtin/split-lock-deadlock.js';
export {
  type StaleDstMappingParams,
  staleDstMapping,
} from './builtin/stale-dst-mapping.js';
export {
  type ZfsFallbackWritebackParams,
  zfsFallbackWriteback,
} from './builtin/zfs-fallback-writeback.js';

// Actors to compose scenarios from, and the folio selectors of the migrator.

// The callers' actors from @mmsim/callers, for scenario files: compaction (kcompactd,
// compact_memory, direct compaction), longterm pinning (pin_user_pages(FOLL_LONGTERM),
// ib_umem_get), memory hotplug and CMA, tiering and NUMA balancing.
export {
  type CmaActorStats,
  type CmaAllocActorOptions,
  type CompactionActorStats,
  type CompactMemoryOptions,
  cmaActorStats,
  cmaAllocActor,
  compactionActorStats,
  compactMemory,
  type DirectCompactionOptions,
  directCompaction,
  type KcompactdOptions,
  kcompactd,
  kernelDemotionTargets,
  kswapdDemote,
  type LongtermPinOptions,
  type LongtermPinResult,
  longtermPin,
  longtermPinResult,
  memoryBlockRange,
  NumaBalancing,
  type OfflinePagesActorOptions,
  offlinePagesActor,
  offlineStats,
  taskNumaWork,
} from '@mmsim/callers';
export type { AccessPattern } from './actors/access-pattern.js';
export { Balloon } from './actors/balloon.js';
export { type Bio, BlockDevice, type BlockDeviceOptions } from './actors/block-device.js';
export { type BufferWriterOptions, bufferWriter } from './actors/buffer-writer.js';
export {
  copyOffloadOf,
  type ProviderUnloadOptions,
  providerUnload,
} from './actors/copy-offload.js';
export { type DirectIoOptions, directIoTask } from './actors/direct-io.js';
export { type ErofsReaderOptions, erofsReader } from './actors/erofs-reader.js';
export { Ext4EndIo, type Ext4EndIoOptions, type Ext4IoEnd } from './actors/ext4-end-io.js';
export { type FileIoOptions, fileIoTask } from './actors/file-io.js';
export { type KsmdOptions, type KsmdStats, ksmd, ksmdStats } from './actors/ksmd.js';
export { LoopDevice, type LoopDeviceOptions, type LoopRequest } from './actors/loop-device.js';
export {
  type MigratorOptions,
  type MigratorStats,
  type MigratorStyle,
  migrator,
  migratorStats,
} from './actors/migrator.js';
export {
  allocMisplacedDstFolio,
  type NumaHintFaultOptions,
  numaHintFault,
} from './actors/numa-hint-fault.js';
export { type PfnWalkerOptions, type PfnWalkerStats, pfnWalker } from './actors/pfn-walker.js';
export { type RangeLockerOptions, rangeLocker } from './actors/range-locker.js';
export { type ReadaheadOptions, readahead } from './actors/readahead.js';
export {
  cachedFolios,
  concatSelectors,
  type FolioSelector,
  givenFolios,
  mappedFolios,
  nodeScan,
} from './actors/selectors.js';
export {
  type UserTaskOptions,
  type UserTaskStats,
  userTask,
  userTaskStats,
} from './actors/user-task.js';
export { WorkQueue } from './actors/work-queue.js';
export {
  type WritebackTarget,
  type WritebackWorkerOptions,
  writebackWorker,
} from './actors/writeback-worker.js';
export {
  type CmaUnderLoadParams,
  cmaUnderLoad,
} from './builtin/cma-under-load.js';
export {
  type HotplugOfflineParams,
  hotplugOffline,
} from './builtin/hotplug-offline.js';

export {
  MIGRATION_RETRY_BOUND,
  type ShmemMigrationStarvationParams,
  shmemMigrationStarvation,
} from './builtin/shmem-migration-starvation.js';

// The kernel's invariants.

export { offlineBlock, type PfnRange, userPagesOutside } from './invariants/hotplug.js';
export {
  DEFAULT_INVARIANT_STRIDE,
  KERNEL_INVARIANT_NAMES,
  type KernelInvariantName,
  type KernelInvariantOptions,
  kernelInvariants,
} from './invariants/kernel-invariants.js';
export {
  isolatedPutBack,
  MigrateCallLedger,
  migratePagesSuccessEmpty,
} from './invariants/migrate-calls.js';
export {
  RESTORED_PTE_INVARIANT,
  restoredPteNoNewPermission,
  restoredPteProblem,
} from './invariants/restored-pte.js';

// Scenarios as exploration targets, and the page-lock inversion check.

export {
  DRIVER_CHECK,
  type DriverFindingData,
  driverErrorCheck,
  formatDriverFinding,
} from './driver-check.js';
export {
  EXPECTATION_CHECK,
  type ExpectationFindingData,
  expectationCheck,
} from './expectation-check.js';
export { INVERSION_CHECK, pageLockInversionCheck } from './page-lock-inversion.js';
export {
  type ExploreScenarioOptions,
  exploreScenario,
  type ScenarioExplorationInstance,
  type ScenarioExplorationTarget,
  type ScenarioIdentity,
  type ScenarioSource,
  type ScenarioTargetOptions,
  scenarioTarget,
} from './scenario-target.js';
