import { describe, expect, test } from 'vitest';
import { pmbenchBenchmarks } from '../src/bench/pmbench.js';

describe('the pmbench suite', () => {
  test('times its wall-clock figures after untimed warm-up runs, and says so', () => {
    const results = pmbenchBenchmarks();
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
});
