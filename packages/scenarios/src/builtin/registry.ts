import { MmsimError } from '@mmsim/runtime';
import type { Scenario } from '../scenario.js';
import { batchCopyPartialFailure } from './batch-copy-partial-failure.js';
import { batchCopyStaleCopy } from './batch-copy-stale-copy.js';
import { batchCopyUnregister } from './batch-copy-unregister.js';
import { bhNorefsLargeFolio } from './bh-norefs-large-folio.js';
import { cmaUnderLoad } from './cma-under-load.js';
import { compactionUnderLoad } from './compaction-under-load.js';
import { deferredSplitChain } from './deferred-split-chain.js';
import { deptWritebackCycle } from './dept-writeback-cycle.js';
import { hotplugOffline } from './hotplug-offline.js';
import { hugetlbMappedMigrate } from './hugetlb-mapped-migrate.js';
import { ksmMigrate } from './ksm-migrate.js';
import { longtermPinScenario } from './longterm-pin.js';
import { loopBhDeadlock } from './loop-bh-deadlock.js';
import { loopWritebackDeadlock } from './loop-writeback-deadlock.js';
import { migrateUnderWrites } from './migrate-under-writes.js';
import { movePagesLoop } from './move-pages-loop.js';
import { numaBalancing } from './numa-balancing.js';
import { checkScenarioParams } from './params.js';
import { pmbenchMigrate } from './pmbench-migrate.js';
import { rfcLockOrder } from './rfc-lock-order.js';
import { shmemThpMigrate } from './shmem-thp-migrate.js';
import { softOffline } from './soft-offline.js';
import { splitLockDeadlock } from './split-lock-deadlock.js';
import { staleDstMapping } from './stale-dst-mapping.js';
import { tiering } from './tiering.js';
import { uffdWpRestore } from './uffd-wp-restore.js';
import { zfsFallbackWriteback } from './zfs-fallback-writeback.js';

/**
 * Builds a built-in scenario from its parameters (all optional; a scenario file's
 * `params`), checked by the scenario itself.
 */
export type ScenarioFactory = (params?: Record<string, unknown>) => Scenario;

/**
 * The built-in scenarios, by name, in the order they are listed. This table is the one
 * registry: `SCENARIO_NAMES`, `builtinScenario` and the `mmsim` command all read it, so
 * adding a scenario is one entry here.
 */
export const BUILTIN_SCENARIOS = {
  'pmbench-migrate': (p = {}) => pmbenchMigrate(p),
  'rfc-lock-order': (p = {}) => rfcLockOrder(p),
  'loop-bh-deadlock': (p = {}) => loopBhDeadlock(p),
  'loop-writeback-deadlock': (p = {}) => loopWritebackDeadlock(p),
  'split-lock-deadlock': (p = {}) => splitLockDeadlock(p),
  'migrate-under-writes': (p = {}) => migrateUnderWrites(p),
  'uffd-wp-restore': (p = {}) => uffdWpRestore(p),
  'dept-writeback-cycle': (p = {}) => deptWritebackCycle(p),
  'zfs-fallback-writeback': (p = {}) => zfsFallbackWriteback(p),
  'deferred-split-chain': (p = {}) => deferredSplitChain(p),
  'stale-dst-mapping': (p = {}) => staleDstMapping(p),
  'bh-norefs-large-folio': (p = {}) => bhNorefsLargeFolio(p),
  'batch-copy-stale-copy': (p = {}) => batchCopyStaleCopy(p),
  'batch-copy-unregister': (p = {}) => batchCopyUnregister(p),
  'batch-copy-partial-failure': (p = {}) => batchCopyPartialFailure(p),
  'move-pages-loop': (p = {}) => movePagesLoop(p),
  'ksm-migrate': (p = {}) => ksmMigrate(p),
  'soft-offline': (p = {}) => softOffline(p),
  'hugetlb-mapped-migrate': (p = {}) => hugetlbMappedMigrate(p),
  'shmem-thp-migrate': (p = {}) => shmemThpMigrate(p),
  'compaction-under-load': (p = {}) => compactionUnderLoad(p),
  'numa-balancing': (p = {}) => numaBalancing(p),
  tiering: (p = {}) => tiering(p),
  'longterm-pin': (p = {}) => longtermPinScenario(p),
  'hotplug-offline': (p = {}) => hotplugOffline(p),
  'cma-under-load': (p = {}) => cmaUnderLoad(p),
} as const satisfies Readonly<Record<string, ScenarioFactory>>;

export type ScenarioName = keyof typeof BUILTIN_SCENARIOS;

/** The built-in scenarios' names, in `BUILTIN_SCENARIOS` order. */
export const SCENARIO_NAMES = Object.keys(BUILTIN_SCENARIOS) as readonly ScenarioName[];

/**
 * A built-in scenario by name, with `params` (default: its default parameters). An
 * unknown name throws INVALID_ARGUMENT listing the known ones; `params` are checked against
 * the scenario's schema (`BUILTIN_PARAM_SCHEMAS`: types, ranges, no unknown keys) first.
 */
export function builtinScenario(name: string, params?: Record<string, unknown>): Scenario {
  const make = (BUILTIN_SCENARIOS as Record<string, ScenarioFactory | undefined>)[name];
  if (make === undefined) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `no built-in scenario ${JSON.stringify(name)}; known: ${SCENARIO_NAMES.join(', ')}`,
    );
  }
  return make(params === undefined ? params : checkScenarioParams(name as ScenarioName, params));
}

/** Every built-in scenario with its default parameters, in `SCENARIO_NAMES` order. */
export function builtinScenarios(): Scenario[] {
  return SCENARIO_NAMES.map((name) => BUILTIN_SCENARIOS[name]());
}
