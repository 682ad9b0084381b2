import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  CAMPAIGN_STRATEGIES,
  type CampaignReport,
  calibrationSteps,
  fittedStepLimit,
  fixedVariants,
  MAX_STEP_LIMIT,
  MIN_STEP_LIMIT,
  STEP_LIMIT_FACTOR,
  supportedStrategies,
} from '../src/commands/campaign.js';
import { mainAsync } from '../src/index.js';
import { openOutputFile } from '../src/io.js';
import { mmsim } from './support/mmsim.js';

/** The campaign's cells without their wall-clock figures. */
function cellsOf(stdout: string) {
  return (JSON.parse(stdout) as CampaignReport).cells.map(
    ({ elapsedMs: _e, schedulesPerSecond: _s, ...cell }) => cell,
  );
}

describe('mmsim campaign', () => {
  test('a fixed variant of each scenario: the one that fixed its bug, or its own; none for an unfixed bug', () => {
    expect(fixedVariants('rfc-lock-order').variants).toEqual(['v6.3-rc1']);
    expect(fixedVariants('split-lock-deadlock').variants).toEqual(['v6.11']);
    expect(fixedVariants('migrate-under-writes').variants).toEqual(['v6.3']);
    expect(fixedVariants('zfs-fallback-writeback')).toEqual({
      variants: [],
      reason: 'no variant fixes its bug yet',
    });
  });

  test('the strategy list is checked against what explore accepts', () => {
    const { supported, notSupported } = supportedStrategies([...CAMPAIGN_STRATEGIES, 'nonsense']);
    expect(supported.map((s) => s.text)).toEqual(expect.arrayContaining(['random', 'pct']));
    expect(notSupported).toContain('nonsense');
    expect(supported.length + notSupported.length).toBe(CAMPAIGN_STRATEGIES.length + 1);
  });

  test('runs scenario x fixed variant x strategy with faults on, and writes JSON and markdown', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mmsim-campaign-')), 'out');
    const r = mmsim([
      'campaign',
      '--scenario',
      'rfc-lock-order',
      '--scenario',
      'loop-bh-deadlock',
      '--schedules',
      '24',
      '--out',
      dir,
      '--json',
    ]);
    expect(r.stderr).not.toMatch(/mmsim:/);
    const report = JSON.parse(r.stdout) as CampaignReport;
    expect(report).toEqual(JSON.parse(readFileSync(join(dir, 'campaign.json'), 'utf8')));
    expect(report.cells.map((c) => `${c.scenario}@${c.variant}/${c.strategy}`)).toEqual([
      'rfc-lock-order@v6.3-rc1/random',
      'rfc-lock-order@v6.3-rc1/pct',
      'rfc-lock-order@v6.3-rc1/dpor:2',
      'loop-bh-deadlock@v6.3/random',
      'loop-bh-deadlock@v6.3/pct',
      'loop-bh-deadlock@v6.3/dpor:2',
    ]);
    for (const cell of report.cells) {
      expect(cell.schedules).toBe(4);
      // Short scenarios: the calibrated step limit is the floor.
      expect(cell.maxSteps).toBe(MIN_STEP_LIMIT);
      expect(cell.faults).toContain('migrate.alloc_migration_target');
    }
    expect(report.totals.schedules).toBe(24);
    // Allocation, trylock, extra-reference, copy and signal faults all have sites.
    expect(report.campaign.faultKindsNotModelled).toEqual([]);
    for (const cell of report.cells) {
      expect(cell.faults).toEqual(
        expect.arrayContaining([
          'migrate.folio_trylock',
          'migrate.extra_ref',
          'signal.fatal_signal_pending',
        ]),
      );
    }
    // Fixed variants: nothing to find (a finding here is a model or kernel bug to report).
    expect(r.code).toBe(report.totals.findings > 0 ? 1 : 0);
    const md = readFileSync(join(dir, 'campaign.md'), 'utf8');
    expect(md).toContain('| rfc-lock-order | v6.3-rc1 | random |');
    expect(md).toContain('24 schedules in 6 cells');
    // The HTML page: every cell, the totals, the chart, nothing fetched from the network.
    const html = readFileSync(join(dir, 'campaign.html'), 'utf8');
    for (const cell of report.cells) {
      expect(html.includes(`data-cell="${cell.scenario}@${cell.variant}/${cell.strategy}"`)).toBe(
        true,
      );
    }
    expect(html.includes('24 schedules in 6 cells')).toBe(true);
    expect(html.includes('<canvas id="rate-chart"')).toBe(true);
    expect(/\s(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i.test(html)).toBe(false);
  }, 120_000);

  test('without faults no site is configured', () => {
    const r = mmsim([
      'campaign',
      '--scenario',
      'rfc-lock-order',
      '--strategy',
      'random',
      '--schedules',
      '3',
      '--fault-probability',
      '0',
      '--json',
    ]);
    const report = JSON.parse(r.stdout) as CampaignReport;
    expect(report.cells).toHaveLength(1);
    expect(report.cells[0]!.faults).toEqual([]);
  }, 60_000);

  test('on worker threads (the built worker module) every schedule of a cell runs, as on one thread', async () => {
    // move-pages-loop under allocation failures, with a step limit below its runs' length
    // (about 170 steps): every schedule is a step-limit run, counted on each thread.
    const args = ['campaign', '--scenario', 'move-pages-loop', '--strategy', 'random'];
    const more = ['--schedules', '64', '--fault-probability', '0.05', '--max-steps', '60'];
    more.push('--json');
    let stdout = '';
    const io = {
      stdout: (t: string) => {
        stdout += t;
      },
      stderr: () => {},
      isTTY: false,
      env: {},
      openOutput: (path: string) => openOutputFile(path, () => {}),
    };
    const code = await mainAsync([...args, ...more, '--workers', '2'], io);
    const threaded = JSON.parse(stdout) as CampaignReport;
    expect(threaded.campaign.workers).toBe(2);
    const alone = mmsim([...args, ...more, '--workers', '1']);
    expect(code).toBe(alone.code);
    expect(cellsOf(stdout)).toEqual(cellsOf(alone.stdout));
    expect(threaded.cells[0]!.schedules).toBe(64);
    expect(threaded.cells[0]!.stepLimitRuns).toBe(64);
    expect(threaded.cells[0]!.maxSteps).toBe(60);
  }, 240_000);

  test('bad options exit 2 with one line', () => {
    for (const bad of [
      ['--scenario', 'nope'],
      ['--strategy', 'nope'],
      ['--fault-probability', '2'],
      ['--schedules', '0'],
      ['--shard', '3/2'],
      ['--workers', '0'],
      ['--max-steps', '0'],
    ]) {
      const r = mmsim(['campaign', ...bad]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  test('the step limit is fitted to a calibration run of each scenario, within its bounds', () => {
    expect(fittedStepLimit(1)).toBe(MIN_STEP_LIMIT);
    expect(fittedStepLimit(8_300)).toBe(STEP_LIMIT_FACTOR * 8_300);
    expect(fittedStepLimit(1_000_000)).toBe(MAX_STEP_LIMIT);
    const steps = calibrationSteps({
      scenario: 'pmbench-migrate',
      variant: 'v6.3',
      strategy: 'random',
      schedules: 1,
      seed: 1,
      maxSteps: undefined,
      disable: undefined,
      shard: undefined,
    });
    // The migrator's four rounds of 256 pages, with four threads accessing them.
    expect(steps).toBeGreaterThan(1_000);
    expect(steps).toBeLessThan(MAX_STEP_LIMIT / STEP_LIMIT_FACTOR);
  }, 60_000);

  test('pmbench-migrate under PCT: a schedule that holds back the migrator is a step-limit run, not a finding', () => {
    // PCT runs the pmbench thread of highest priority alone; it loops until the migrator is
    // done, which never runs: legal, and unbounded.
    // A step limit well below the calibrated one (4 x about 8,000 steps) keeps it quick.
    const args = ['campaign', '--scenario', 'pmbench-migrate', '--strategy', 'pct'];
    const r = mmsim([...args, '--schedules', '1', '--max-steps', '3000', '--json']);
    expect(r.stderr).not.toMatch(/mmsim:/);
    const report = JSON.parse(r.stdout) as CampaignReport;
    const cell = report.cells[0]!;
    expect(cell.maxSteps).toBe(3000);
    expect(cell.stepLimitRuns).toBe(1);
    expect(cell.findings).toBe(0);
    expect(cell.replay).toBeNull();
    expect(cell.stepLimitReplay).toMatch(/^mmsim1\./);
    expect(report.totals).toMatchObject({ findings: 0, stepLimitRuns: 1 });
    expect(r.code).toBe(0);
    const md = mmsim([...args, '--schedules', '1', '--max-steps', '3000']);
    expect(md.stdout).toContain('## Step-limit runs');
    expect(md.stdout).not.toContain('## Findings');
  }, 120_000);

  test('mmsim merge combines the shards of a campaign into the unsharded report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-campaign-merge-'));
    // move-pages-loop with a step limit below its runs: every schedule is counted (a
    // step-limit run), so the sums are checked, not only the zeros.
    const args = ['campaign', '--scenario', 'rfc-lock-order', '--scenario', 'move-pages-loop'];
    const more = ['--strategy', 'random', '--schedules', '16', '--max-steps', '120', '--json'];
    const whole = mmsim([...args, ...more]);
    const files = ['1/2', '2/2'].map((shard, i) => {
      const r = mmsim([...args, ...more, '--shard', shard, '--out', join(dir, `s${i}`)]);
      expect(r.stderr).not.toMatch(/mmsim:/);
      return join(dir, `s${i}`, 'campaign.json');
    });
    const merged = mmsim(['merge', ...files, '--json']);
    expect(merged.code).toBe(whole.code);
    const a = JSON.parse(merged.stdout) as CampaignReport;
    const b = JSON.parse(whole.stdout) as CampaignReport;
    expect(cellsOf(merged.stdout)).toEqual(cellsOf(whole.stdout));
    expect(a.totals.schedules).toBe(16);
    expect(a.totals.stepLimitRuns).toBe(b.totals.stepLimitRuns);
    expect(a.totals.stepLimitRuns).toBeGreaterThan(0);
    expect(a.campaign.shard).toBeNull();
    const md = mmsim(['merge', ...files]);
    expect(md.stdout).toContain('16 schedules in 2 cells');
    // --html: the merged campaign's page.
    const page = join(dir, 'merged.html');
    const withHtml = mmsim(['merge', ...files, '--html', page]);
    expect(withHtml.code).toBe(whole.code);
    const html = readFileSync(page, 'utf8');
    expect(html.includes('16 schedules in 2 cells')).toBe(true);
    expect(html.includes('data-cell="move-pages-loop@')).toBe(true);
    const bad = mmsim(['merge', ...files, '--html', join(dir, 'no', 'such', 'dir', 'x.html')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot write/);
    const one = mmsim(['merge', files[0]!]);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/shard\(s\) 2\/2 missing/);
  }, 180_000);
});
