import type { Kernel } from '@mmsim/kernel';
import { DmaCopyMigrator, type Migrator, ThreadCopyMigrator } from '@mmsim/migrate';
import { copyOffloadOf, pmbenchMigrate, runScenario, type Scenario } from '@mmsim/scenarios';
import type { BenchResult } from './bench-result.js';

/** The configurations compared: v6.3, and batch-copy with each provider. */
const CONFIGS = [
  { key: 'v6.3', variant: 'v6.3', provider: null },
  {
    key: 'batch-copy.dma',
    variant: 'batch-copy',
    provider: () => new DmaCopyMigrator({ channels: 4, minPages: 32 }),
  },
  {
    key: 'batch-copy.threads',
    variant: 'batch-copy',
    provider: () => new ThreadCopyMigrator({ threads: 4, minPages: 8 }),
  },
] as const;

/** pmbench-migrate with `make()`'s provider registered before the scenario builds. */
export function withProvider(scenario: Scenario, make: () => Migrator): Scenario {
  return {
    ...scenario,
    build(k: Kernel) {
      copyOffloadOf(k).register(make());
      return scenario.build(k);
    },
  };
}

interface BatchCopyRun {
  readonly pagesMigrated: number;
  readonly migrationNs: number;
  readonly pagesPerVirtualSecond: number;
  readonly wallMs: number;
}

function run(config: (typeof CONFIGS)[number]): BatchCopyRun {
  const base = pmbenchMigrate();
  const scenario = config.provider === null ? base : withProvider(base, config.provider);
  const start = process.hrtime.bigint();
  const r = runScenario(scenario, { variant: config.variant, checkSteps: false });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error !== null || r.result?.status !== 'completed') {
    throw new Error(
      `pmbench-migrate@${config.key} did not complete: ${r.error?.message ?? r.result?.status}`,
    );
  }
  const f = r.figures;
  return {
    pagesMigrated: f.pagesMigrated ?? 0,
    migrationNs: f.migrationNs ?? 0,
    pagesPerVirtualSecond: f.pagesPerSecond ?? 0,
    wallMs,
  };
}

/**
 * The batch-copy series on `pmbench-migrate` (4 threads, 256 pages, 2 round trips,
 * MIGRATE_SYNC: each call's ASYNC batch goes to the provider), v6.3 against batch-copy with
 * the dcbm DMA provider (4 channels, batches of 32 pages and up) and with the
 * multi-threaded CPU copy (4 threads, 8 pages and up), under the default cost table
 * (docs/batch-copy.md): pages migrated per virtual second and virtual ns inside
 * migrate_pages per configuration, the throughput ratios over v6.3, and the model's speed
 * (folios per wall-clock second). Best of 3 runs for the wall clock; the virtual figures
 * are the same in every run.
 */
export function batchCopyBenchmarks(): BenchResult[] {
  const results = CONFIGS.map((config) => {
    const runs = Array.from({ length: 3 }, () => run(config));
    return { config, r: runs.reduce((a, b) => (b.wallMs < a.wallMs ? b : a)) };
  });
  const v63 = results[0]!.r;
  return results.flatMap(({ config, r }): BenchResult[] => [
    {
      name: `pmbench.${config.key}.pages_per_virtual_sec`,
      value: r.pagesPerVirtualSecond,
      unit: 'pages/s',
      better: 'higher' as const,
      description: `Pages migrated per virtual second inside migrate_pages on pmbench-migrate, ${config.key}.`,
      detail: { pagesMigrated: r.pagesMigrated, migrationNs: r.migrationNs },
    },
    {
      // The v6.3 run of this suite is its baseline: `pmbench.v6.3.folios_per_wall_sec` is
      // the pmbench suite's own figure (best of 5), so this one is named apart.
      name:
        config.provider === null
          ? `pmbench.${config.key}.batch_copy_baseline_folios_per_wall_sec`
          : `pmbench.${config.key}.folios_per_wall_sec`,
      value: (r.pagesMigrated / r.wallMs) * 1000,
      unit: 'folios/s',
      better: 'higher' as const,
      description: `Folios migrated per wall-clock second over a whole pmbench-migrate run, ${config.key} (the model's speed).`,
      detail: { wallMs: r.wallMs },
    },
    ...(config.provider === null
      ? []
      : [
          {
            name: `pmbench.virtual_throughput_ratio_${config.key}_over_v6.3`,
            value: r.pagesPerVirtualSecond / v63.pagesPerVirtualSecond,
            unit: 'ratio',
            better: 'higher' as const,
            description: `Pages migrated per virtual second, ${config.key} over v6.3, on pmbench-migrate.`,
          },
        ]),
  ]);
}
