import { describe, expect, it } from 'vitest';
import { mmsim } from './support/mmsim.js';

describe('mmsim run: cost per reason', () => {
  it('--json lists the numa_misplaced migrate_pages calls of numa-balancing with their cost', () => {
    const { code, stdout } = mmsim(['run', 'numa-balancing', '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as {
      vmstat: Record<string, number>;
      reasonCosts: Array<{
        reason: string;
        calls: number;
        ns: number;
        succeeded: number;
        failed: number;
        ipis: number;
        retries: number;
      }>;
    };
    expect(out.reasonCosts.map((r) => r.reason)).toEqual(['numa_misplaced']);
    const row = out.reasonCosts[0]!;
    expect(row.succeeded).toBe(out.vmstat.pgmigrate_success);
    expect(row.succeeded).toBeGreaterThan(0);
    expect(row.calls).toBe(row.succeeded); // one base page per hinting fault
    expect(row.ns).toBeGreaterThan(0);
    expect(row.ipis).toBeGreaterThan(0);
    expect(Number.isInteger(row.retries) && row.retries >= 0).toBe(true);
  });

  it('the text summary has a line per reason, and none without migrate_pages calls', () => {
    const text = mmsim(['run', 'numa-balancing']).stdout;
    expect(text).toMatch(/^cost per reason .*:$/m);
    expect(text).toMatch(
      /^ {2}numa_misplaced: \d+ calls, [\d.]+ us, \d+ migrated, 0 failed, 0 split, \d+ IPIs, \d+ retries$/m,
    );
    const none = mmsim(['run', 'numa-balancing', '--json']).stdout;
    expect(JSON.parse(none).reasonCosts.every((r: { calls: number }) => r.calls > 0)).toBe(true);
  });
});
