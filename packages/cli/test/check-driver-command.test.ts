import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { preloadDriverModules } from '../src/commands/check-driver.js';
import { mmsim } from './support/mmsim.js';

const DIR = 'packages/cli/test/fixtures/drivers';

/** `mmsim ARGS` as the bin runs it: the driver module loaded first. */
async function run(args: string[]) {
  await preloadDriverModules(args);
  return mmsim(args);
}

const EXAMPLE = 'examples/drivers/my-driver.ts';
/** A broken copy of the guide's driver: its migrate_page no longer moves the page. */
const BROKEN = `${DIR}/my-driver-${process.pid}.generated.ts`;
afterAll(() => rmSync(BROKEN, { force: true }));

describe("mmsim check-driver on the guide's driver (examples/drivers/my-driver.ts)", () => {
  it('exits 0 on the driver as written', async () => {
    const r = await run(['check-driver', EXAMPLE]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^driver my-driver \(v6\.3\): PASS/);
    expect(r.stdout).toContain(
      'its locks, checked against the page lock: my-driver:my-driver lock',
    );
  });

  it('exits 1 on a copy that returns success without moving, with a token that reproduces it', async () => {
    const source = readFileSync(EXAMPLE, 'utf8');
    const line = /^\s*host\.movePage\(dst, src\);.*$/m;
    expect(source).toMatch(line);
    writeFileSync(BROKEN, source.replace(line, ''));
    const r = await run(['check-driver', BROKEN]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL data-at-dst');
    const token = /--replay (\S+)/.exec(r.stdout)?.[1] as string;
    const again = await run(['check-driver', BROKEN, '--replay', token]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(
      /data-at-dst: my-driver\.migrate_page returned MIGRATEPAGE_SUCCESS but the data is not at dst/,
    );
  });
});

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
