import { type DriverDefinition, defineDriver } from '@mmsim/driver';
import type { ExplorationTarget, ExploreStrategy, InstanceOptions } from '@mmsim/explore';
import type { Actor, Kernel, VariantName } from '@mmsim/kernel';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
  type MigrateVariant,
  MR_COMPACTION,
  MR_SYSCALL,
  migrateModeName,
  resolveVariant,
  variantContentHash,
} from '@mmsim/migrate';
import type { FaultSpec, Invariant } from '@mmsim/runtime';
import {
  driverErrorCheck,
  givenFolios,
  instantiateScenario,
  migrator,
  pageLockInversionCheck,
  type Scenario,
} from '@mmsim/scenarios';
import { DRIVER_CHECK_NAMES } from './checks.js';
import { KIT_FAULTS, type KitCalls, KitRun, kitCalls } from './kit-run.js';

/**
 * One configuration the kit explores: which caller migrates the driver's pages, how the
 * schedules are chosen, and which faults are injected.
 */
export interface KitPlan {
  /** Names the plan in the target's name and the report. */
  readonly name: string;
  /** What the plan stands for, one line. */
  readonly title: string;
  readonly mode: MigrateMode;
  /**
   * `'compaction'`: the migrator actor as compaction (isolate_migratepages_block,
   * compaction_alloc, MR_COMPACTION); `'syscall'`: as move_pages(2) (alloc_migration_target,
   * whose fault site fails dst allocation).
   */
  readonly style: 'compaction' | 'syscall';
  readonly strategy: ExploreStrategy;
  readonly schedules: number;
  readonly faults: Readonly<Record<string, FaultSpec>>;
  /** Driver pages populated on node 0 before the run. */
  readonly pages: number;
  /** Migration rounds of each migrator (node 1, then back to node 0, ...). */
  readonly rounds: number;
  /** Migrators racing for the same pages (1 or 2). */
  readonly migrators: number;
  /** The number handed to each of the driver's operations. */
  readonly opArg: number;
}

const ALLOC_FAULT = 'migrate.alloc_migration_target';

/**
 * The default plans: compaction-like ASYNC and SYNC_LIGHT, move_pages-like SYNC with dst
 * allocation failing, migrate_page answered with -EAGAIN / -EBUSY, under random, PCT and
 * bounded DFS (on the smallest configuration). `scale` multiplies the schedules
 * (`--thorough`: 25).
 */
export function defaultPlans(scale = 1): KitPlan[] {
  const n = (k: number) => Math.max(1, Math.round(k * scale));
  return [
    {
      name: 'async',
      title: 'compaction, MIGRATE_ASYNC, two callers racing, random schedules',
      mode: MIGRATE_ASYNC,
      style: 'compaction',
      strategy: 'random',
      schedules: n(20),
      faults: {},
      pages: 4,
      rounds: 2,
      migrators: 2,
      opArg: 2,
    },
    {
      name: 'sync-light-faults',
      title:
        'compaction, MIGRATE_SYNC_LIGHT, migrate_page made to return -EAGAIN / -EBUSY, PCT schedules',
      mode: MIGRATE_SYNC_LIGHT,
      style: 'compaction',
      strategy: 'pct',
      schedules: n(20),
      faults: {
        [KIT_FAULTS.eagain]: { probability: 0.3 },
        [KIT_FAULTS.ebusy]: { probability: 0.2 },
      },
      pages: 4,
      rounds: 2,
      migrators: 1,
      opArg: 2,
    },
    {
      name: 'sync-alloc-fail',
      title: 'move_pages, MIGRATE_SYNC, dst allocation failing, random schedules',
      mode: MIGRATE_SYNC,
      style: 'syscall',
      strategy: 'random',
      schedules: n(20),
      faults: { [ALLOC_FAULT]: { probability: 0.3 } },
      pages: 4,
      rounds: 2,
      migrators: 1,
      opArg: 2,
    },
    {
      name: 'dfs',
      title:
        'compaction, MIGRATE_SYNC, two callers racing for 2 pages, every schedule with at most one preemption (bounded)',
      mode: MIGRATE_SYNC,
      style: 'compaction',
      strategy: { kind: 'dfs', preemptionBound: 1 },
      schedules: n(60),
      faults: {},
      pages: 2,
      rounds: 1,
      migrators: 2,
      opArg: 1,
    },
  ];
}

/** A driver target: one plan of one driver in one variant. */
export interface DriverTarget extends ExplorationTarget {
  readonly plan: KitPlan;
  /** The instrumentation of the instance built last (a replay's, once it returns). */
  readonly lastRun: KitRun | null;
}

/** The prefix of every driver target's name: `check-driver:<driver>@<plan>`. */
export const TARGET_PREFIX = 'check-driver:';

/**
 * An exploration target that runs `definition`, instrumented, under one plan: a two-node
 * machine with the page-lock dependency checker on, the driver's pages on node 0, the
 * migrators moving them to node 1 and back, and each of the driver's operations as its own
 * task. The instance's invariants are the kit's checks (first, so a protocol violation is
 * named by its check) and then the kernel's; its checks are the scenarios' page-lock
 * inversion and driver-error checks (a callback that throws or breaks its contract).
 */
export function driverTarget(
  definition: DriverDefinition<unknown>,
  plan: KitPlan,
  variantSpec: VariantName | MigrateVariant = 'v6.3',
  calls: KitCalls = kitCalls(),
): DriverTarget {
  const variant = resolveVariant(variantSpec);
  const spec = definition.spec;
  let lastRun: KitRun | null = null;
  const scenario: Scenario = {
    name: `${TARGET_PREFIX}${spec.name}@${plan.name}`,
    title: `conformance run of driver ${spec.name}: ${plan.title}`,
    description: plan.title,
    sources: [],
    config: {
      nodes: [{ pages: 32 }, { pages: 32 }],
      cpusPerNode: 2,
      variant,
      dependencyChecking: { lockClass: 'folio' },
    },
    build(k: Kernel) {
      const run = new KitRun(k, spec, calls);
      lastRun = run;
      const attached = defineDriver(run.instrumentedSpec()).attach(k);
      run.attached = attached;
      const actors: Actor[] = [];
      for (let m = 0; m < plan.migrators; m++) {
        actors.push(
          migrator(k, {
            name: m === 0 ? 'migrate' : `migrate${m}`,
            cpu: m === 0 ? 0 : 2,
            mode: plan.mode,
            reason: plan.style === 'compaction' ? MR_COMPACTION : MR_SYSCALL,
            rounds: plan.rounds,
            targets: [1, 0],
            select: givenFolios(() => run.host.pages),
            style: plan.style,
          }),
        );
      }
      const ops = Object.keys(spec.operations ?? {});
      ops.forEach((op, i) => {
        actors.push(attached.actor(op, { cpu: i % 2 === 0 ? 1 : 3, arg: plan.opArg }));
      });
      return {
        setup: function* () {
          attached.populate(0, plan.pages);
        },
        actors,
      };
    },
  };
  const identity = {
    driver: spec.name,
    plan: plan.name,
    variant: { name: variant.name, contentHash: variantContentHash(variant) },
  };
  return {
    name: scenario.name,
    identity,
    plan,
    get lastRun() {
      return lastRun;
    },
    instantiate({ runtime }: InstanceOptions) {
      const instance = instantiateScenario(scenario, { ...runtime, variant });
      const run = lastRun as KitRun;
      const kit: Invariant[] = DRIVER_CHECK_NAMES.filter((c) => c !== 'callback-contract').map(
        (check) => ({
          name: check,
          check: (phase: 'step' | 'end') =>
            phase === 'end'
              ? run.endCheck(check)
              : check === 'lock-order'
                ? run.locks.inversion()
                : run.firstOf(check),
        }),
      );
      return {
        kernel: instance.kernel,
        rt: instance.kernel.rt,
        invariants: [...kit, ...instance.invariants],
        checks: [pageLockInversionCheck(instance.inversions), driverErrorCheck(instance.kernel)],
      };
    },
  };
}

/** A plan's one-line description with its mode. */
export function planLine(plan: KitPlan): string {
  const strategy =
    typeof plan.strategy === 'string'
      ? plan.strategy
      : plan.strategy.kind === 'dfs'
        ? `dfs (preemption bound ${plan.strategy.preemptionBound ?? 2})`
        : 'pct';
  return `${plan.name}: ${plan.style} ${migrateModeName(plan.mode)}, ${strategy}, ${plan.schedules} schedule(s)`;
}
