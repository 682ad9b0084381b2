import { describe, expect, test } from 'vitest';
import { pmbenchBenchmarks } from '../src/bench/pmbench.js';

describe('the pmbench suite', () => {
  // One run of the suite (some seconds) serves both tests.
  let cached: ReturnType<typeof pmbenchBenchmarks> | null = null;
  const suite = () => {
    cached ??= pmbenchBenchmarks();
    return cached;
  };

  test('times its wall-clock figures after untimed warm-up runs, and says so', () => {
    const results = suite();
    for (const variant of ['v6.2', 'v6.3']) {
      for (const name of [
        `pmbench.${variant}.real_time_factor`,
        `pmbench.${variant}.folios_per_wall_sec`,
      ]) {
        const f = results.find((x) => x.name === name);
        expect(f, name).toBeDefined();
        const detail = f!.detail as { warmUpRuns?: number; timedRuns?: number };
        expect(detail.warmUpRuns, name).toBeGreaterThanOrEqual(1);
        expect(detail.timedRuns, name).toBeGreaterThanOrEqual(1);
        expect(f!.description).toMatch(/untimed/);
      }
    }
  });

  test('gives the virtual and wall time per folio migrated behind each real-time factor', () => {
    const results = suite();
    const detail = (variant: string) =>
      results.find((x) => x.name === `pmbench.${variant}.real_time_factor`)!.detail as {
        wallMs: number;
        virtualNs: number;
        virtualNsPerFolio: number;
        wallNsPerFolio: number;
      };
    const old = detail('v6.2');
    const now = detail('v6.3');
    for (const d of [old, now]) {
      // 1,024 folios a run (256 pages, two round trips), all migrated.
      expect(d.virtualNsPerFolio).toBeCloseTo(d.virtualNs / 1024, 6);
      expect(d.wallNsPerFolio).toBeCloseTo((d.wallMs * 1e6) / 1024, 3);
    }
    // One flush round per batch against one per page: a v6.3 folio takes less virtual time.
    expect(now.virtualNsPerFolio).toBeLessThan(old.virtualNsPerFolio / 2);
  });
});
