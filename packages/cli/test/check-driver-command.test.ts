import { describe, expect, it } from 'vitest';
import { preloadDriverModules } from '../src/commands/check-driver.js';
import { mmsim } from './support/mmsim.js';

const DIR = 'packages/cli/test/fixtures/drivers';

/** `mmsim ARGS` as the bin runs it: the driver module loaded first. */
async function run(args: string[]) {
  await preloadDriverModules(args);
  return mmsim(args);
}

describe('mmsim check-driver', () => {
  it('exits 0 on a correct driver, with every check passed', async () => {
    const r = await run(['check-driver', `${DIR}/ring.ts`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^driver ring \(v6\.3\): PASS/);
    expect(r.stdout).not.toContain('FAIL');
  });

  it('exits 1 on a broken copy, with the check, its message and a replay command that reproduces it', async () => {
    const file = `${DIR}/ring-no-move.ts`;
    const r = await run(['check-driver', file, '--seed', '3']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL data-at-dst');
    const line = /replay: (mmsim check-driver \S+ --replay (\S+))/.exec(r.stdout);
    expect(line?.[1]).toBe(`mmsim check-driver ${file} --replay ${line?.[2]}`);
    const again = await run(['check-driver', file, '--replay', line?.[2] as string]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(
      /data-at-dst: ring\.migrate_page returned MIGRATEPAGE_SUCCESS but the data is not at dst/,
    );
    // A driver that changed since (here: the fixed one) is told, not run on another schedule.
    const fixed = await run(['check-driver', `${DIR}/ring.ts`, '--replay', line?.[2] as string]);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toMatch(/the token's schedule does not fit this driver/);
  });

  it('--json prints the report with each finding and its replay command', async () => {
    const r = await run(['check-driver', `${DIR}/ring-no-move.ts`, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.verdict).toBe('fail');
    expect(report.checks.find((c: { name: string }) => c.name === 'data-at-dst').status).toBe(
      'fail',
    );
    expect(report.findings[0].replayCommand).toMatch(
      /^mmsim check-driver .*ring-no-move\.ts --replay mmsim1\./,
    );
    expect(report.calls.migratePage).toBeGreaterThan(0);
  });

  it.each([
    [['check-driver', `${DIR}/missing.ts`], /missing\.ts: no such file/],
    [['check-driver', `${DIR}/not-a-driver.ts`], /exports no driver/],
    [['check-driver', `${DIR}/ring.ts`, '--seed', 'x'], /--seed must be an integer/],
    [['check-driver', `${DIR}/ring.ts`, '--replay', 'nonsense'], /check-driver .*ring\.ts: /],
    [['check-driver', `${DIR}/ring.ts`, '--variant', 'v9.9'], /v9\.9/],
  ])('bad input %j: exit 2, one line on stderr', async (args, message) => {
    const r = await run(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
