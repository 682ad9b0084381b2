import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VARIANT_NAMES } from '@mmsim/kernel';
import { builtinScenario, historyBugVariants, SCENARIO_NAMES } from '@mmsim/scenarios';
import { describe, expect, test } from 'vitest';
import { historyExpectation } from '../src/commands/check.js';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

interface Row {
  scenario: string;
  result: string;
  kind: string | null;
  replay: string | null;
  replayCommand: string | null;
  expected: string;
  deadlock: { strategy: string; message: string; replay: string; replayCommand: string } | null;
}

interface CheckResult {
  code: number;
  rows: Row[];
  findings: number;
}

/**
 * `mmsim check --variant VARIANT --json`, run once per variant in this file: a check is
 * deterministic (same seed, same schedules), and the matrix test has already run each
 * built-in variant by the time another test reads one again.
 */
const checkRuns = new Map<string, CheckResult>();
function checkJson(variant: string): CheckResult {
  const known = checkRuns.get(variant);
  if (known !== undefined) return known;
  const r = mmsim(['check', '--variant', variant, '--json']);
  const parsed = JSON.parse(r.stdout) as { rows: Row[]; findings: number };
  const result = { code: r.code, ...parsed };
  checkRuns.set(variant, result);
  return result;
}

/** The scenarios whose recorded history says `variant` has their bug (deadlock or other). */
function recordedBugs(variant: string): string[] {
  return SCENARIO_NAMES.filter((name) => {
    const history = builtinScenario(name).history;
    return history !== undefined && (historyBugVariants(history) as string[]).includes(variant);
  });
}

/** Whether `scenario`'s recorded bug in `variant` is a deadlock (else `failsIn`). */
function recordedDeadlock(scenario: string, variant: string): boolean {
  const history = builtinScenario(scenario).history;
  return (history?.deadlocksIn as readonly string[] | undefined)?.includes(variant) === true;
}

// Each check runs every built-in scenario under three strategies, and one test runs it for
// every built-in variant: the time grows with scenarios x variants, far past the default
// limit on a loaded 2-core machine. The limit only catches a hung run.
describe('mmsim check', { timeout: 600_000 }, () => {
  test('check --variant v6.3 has no deadlock: every historic deadlock clean, only the regressions 6.3 shipped (not hangs) found, exit 1', () => {
    const r = mmsim(['check', '--variant', 'v6.3']);
    // The regression pack records two bugs 6.3 had that are not hangs: the ZFS BUG_ON
    // (openzfs/zfs#15140) and the stale dst->mapping read by pfn walkers (d1adb25df711).
    const bugs = recordedBugs('v6.3');
    expect(bugs).toEqual(['zfs-fallback-writeback', 'stale-dst-mapping']);
    expect(r.code).toBe(EXIT_FINDING);
    for (const name of bugs) expect(r.stdout).toMatch(new RegExp(`^${name}\\s+crash \\(`, 'm'));
    // Each finding's line names its kind once.
    expect(r.stdout).toMatch(/^zfs-fallback-writeback: crash: INVARIANT_VIOLATED: kernel BUG/m);
    expect(r.stdout).not.toMatch(/crash: crash:/);
    expect(r.stdout).not.toMatch(/^\S+\s+(deadlock|inversion) \(/m);
    expect(r.stdout).toMatch(/rfc-lock-order\s+clean for \d+ schedules/);
    expect(r.stdout).toMatch(/pmbench-migrate\s+skipped: benchmark/);
    expect(r.stdout).toMatch(/2 scenario\(s\) with a finding in variant v6.3/);
  });

  test('check --variant rfc-2022 shows exactly the deadlocks its recorded history gives, each with a replay command, exit 1', () => {
    const r = mmsim(['check', '--variant', 'rfc-2022']);
    expect(r.code).toBe(EXIT_FINDING);
    const bugs = recordedBugs('rfc-2022');
    const deadlocks = bugs.filter((name) => recordedDeadlock(name, 'rfc-2022'));
    expect(deadlocks).toEqual(
      expect.arrayContaining(['rfc-lock-order', 'loop-bh-deadlock', 'loop-writeback-deadlock']),
    );
    for (const name of bugs) {
      // The regression pack's bugs that are not hangs (`failsIn`) are crashes here.
      const cell = deadlocks.includes(name)
        ? 'inversion \\(\\w+\\); deadlock confirmed with the check off'
        : 'crash \\(\\w+\\)';
      expect(r.stdout).toMatch(new RegExp(`^${name}\\s+${cell}`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^${name}: .*\\n  replay: mmsim replay mmsim1\\.`, 'm'));
    }
    expect(r.stdout).toMatch(/split-lock-deadlock\s+clean/);
    expect(r.stdout).toMatch(new RegExp(`${bugs.length} scenario\\(s\\) with a finding`));
  });

  test('for every built-in variant the matrix matches each scenario history: findings exactly where the bug was recorded', () => {
    for (const variant of VARIANT_NAMES) {
      const { code, rows, findings } = checkJson(variant);
      const found = rows.filter((r) => r.result === 'finding').map((r) => r.scenario);
      expect({ variant, found }).toEqual({ variant, found: recordedBugs(variant) });
      expect(code).toBe(findings === 0 ? EXIT_OK : EXIT_FINDING);
      for (const row of rows) {
        if (row.result === 'finding' && !recordedDeadlock(row.scenario, variant)) {
          // A regression that was not a hang (`failsIn`): a failed invariant or a BUG.
          expect({ scenario: row.scenario, kind: row.kind }).toEqual({
            scenario: row.scenario,
            kind: expect.stringMatching(/^(invariant|crash)$/),
          });
          expect(row.expected).toBe('bug');
          expect(row.replayCommand).toBe(`mmsim replay ${row.replay}`);
        } else if (row.result === 'finding') {
          expect(['deadlock', 'inversion']).toContain(row.kind);
          expect(row.expected).toBe('bug');
          expect(row.replayCommand).toBe(`mmsim replay ${row.replay}`);
          // The recorded history is of deadlocks: the cycle must close with the checker off.
          expect(row.kind === 'deadlock' || row.deadlock !== null).toBe(true);
        } else if (row.result === 'clean') {
          expect(row.expected).toBe('fixed');
          expect(row.deadlock).toBeNull();
        }
      }
    }
    // Six variants times every scenario; deferred-split-chain alone runs 60 schedules of
    // two 512-page splits in each variant without the bug.
  }, 900_000);

  test('a finding of check replays to the same finding', () => {
    const { rows } = checkJson('v6.3-rc1');
    const row = rows.find((r) => r.scenario === 'loop-bh-deadlock');
    expect(row?.result).toBe('finding');
    const r = mmsim(['replay', row!.replay!, '--json']);
    expect(r.code).toBe(EXIT_FINDING);
    expect(r.stdout).toContain('loop-bh-deadlock');
    expect(row?.deadlock?.replay).toMatch(/^mmsim1\./);
    const d = mmsim(['replay', row!.deadlock!.replay, '--json']);
    expect(d.code).toBe(EXIT_FINDING);
    expect(JSON.parse(d.stdout).finding.kind).toBe('deadlock');
  });

  test('--markdown writes a pull-request summary with the matrix and replay commands', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmsim-check-')), 'check.md');
    const r = mmsim(['check', '--variant', 'v6.10', '--markdown', file]);
    expect(r.code).toBe(EXIT_FINDING);
    const md = readFileSync(file, 'utf8');
    expect(md).toMatch(/^## mmsim check --variant v6.10/);
    expect(md).toMatch(
      /\| split-lock-deadlock \| inversion \(random\); deadlock confirmed with the check off \(random\) \| bug \|/,
    );
    expect(md).toMatch(/\| rfc-lock-order \| clean for \d+ schedules[^|]* \| fixed \|/);
    expect(md).toContain('mmsim replay mmsim1.');
    expect(md).toMatch(/Deadlock itself: /);
  });

  test('--schedules and --time-budget bound the search', () => {
    const { rows } = JSON.parse(
      mmsim(['check', '--variant', 'v6.3', '--schedules', '2', '--json']).stdout,
    ) as { rows: { scenario: string; schedules: number }[] };
    expect(rows.find((r) => r.scenario === 'rfc-lock-order')?.schedules).toBeLessThanOrEqual(6);
    const t = mmsim(['check', '--variant', 'v6.3', '--time-budget', '0.001']);
    expect(t.code).toBe(EXIT_OK);
    expect(t.stdout).toMatch(/skipped: time budget spent/);
  });

  test('a scenario whose bounded DFS space is small enough says it was exhausted within the bound', () => {
    const r = mmsim(['check', '--variant', 'v6.3', '--schedules', '30']);
    expect(r.code).toBe(EXIT_FINDING); // the regression pack's 6.3 bugs
    expect(r.stdout).toMatch(
      /split-lock-deadlock\s+clean for \d+ schedules; exhausted within bound 1/,
    );
    expect(r.stdout).toMatch(/migrate-under-writes\s+clean for 90 schedules\n/);
  });

  test.each([
    [['check'], /--variant/],
    [['check', '--variant', 'v9.9'], /--variant must be one of/],
    [['check', '--variant', 'v6.3', '--schedules', '0'], /--schedules must be an integer >= 1/],
    [['check', '--variant', 'v6.3', '--time-budget', 'soon'], /--time-budget must be/],
  ])('bad usage %j exits 2 with one line on stderr', (args, message) => {
    const r = mmsim(args);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('historyExpectation reads bug, fixed and unrecorded from a history', () => {
    const history = { deadlocksIn: ['rfc-2022'], fixedIn: ['v6.3'] } as const;
    expect(historyExpectation(history, 'rfc-2022')).toBe('bug');
    expect(historyExpectation(history, 'v6.3')).toBe('fixed');
    expect(historyExpectation(history, 'v6.2')).toBe('unrecorded');
    expect(historyExpectation(undefined, 'v6.3')).toBe('unrecorded');
  });
});

describe('mmsim check --variant FILE', { timeout: 600_000 }, () => {
  test('a custom variant from a file is labelled by its name, finds the RFC deadlock, and its replay command names the file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmsim-check-')), 'rfc-like.json');
    writeFileSync(
      file,
      JSON.stringify({
        extends: 'v6.3',
        syncBatching: 'batch-all-modes',
        forceFromPass3: true,
        batchFlush: 'always',
      }),
    );
    const { code, rows } = checkJson(file);
    expect(code).toBe(EXIT_FINDING);
    const rfc = rows.find((r) => r.scenario === 'rfc-lock-order');
    expect(rfc?.result).toBe('finding');
    expect(rfc?.expected).toBe('unrecorded');
    expect(rfc?.replayCommand).toContain(`--variant ${file}`);
    const text = mmsim(['check', '--variant', file, '--schedules', '1']);
    expect(text.stdout).toMatch(/mmsim check --variant rfc-like /);
    expect(text.stdout).not.toMatch(/object Object/);
  });
});
