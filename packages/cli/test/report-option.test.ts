import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReportData } from '@mmsim/report';
import { describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

const dir = mkdtempSync(join(tmpdir(), 'mmsim-report-'));

/** The data a report file embeds, read back from the page. */
function reportData(path: string): ReportData {
  const html = readFileSync(path, 'utf8');
  const m = /<script type="application\/json" id="mmsim-data">([\s\S]*?)<\/script>/.exec(html);
  if (m === null) throw new Error(`${path} embeds no report data`);
  return JSON.parse(m[1] ?? '') as ReportData;
}

/** Every src= or href= of the page: a self-contained report has none that leaves the file. */
function externalReferences(path: string): string[] {
  const html = readFileSync(path, 'utf8');
  return [...html.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="([^"]*)"/g)]
    .map((m) => m[1] ?? '')
    .filter((url) => !url.startsWith('data:'));
}

describe('--report FILE.html', () => {
  test('explore writes the finding: its wait-for cycle, every step, the replay command', () => {
    const file = join(dir, 'explore.html');
    const { code } = mmsim([
      'explore',
      'loop-bh-deadlock',
      '--disable',
      'page-lock-inversion',
      '--schedules',
      '200',
      '--report',
      file,
    ]);
    expect(code).toBe(EXIT_FINDING);
    const data = reportData(file);
    expect(data.summary).toMatchObject({ command: 'explore', scenario: 'loop-bh-deadlock' });
    expect(data.summary.replayCommand).toMatch(/^mmsim replay mmsim1\./);
    expect(data.cycle?.tasks.map((t) => t.name).sort()).toEqual(['kcompactd0', 'kworker/loop0']);
    // Each task of the cycle holds what the other waits for.
    for (const task of data.cycle?.tasks ?? []) {
      const other = data.cycle?.tasks.find((t) => t.id !== task.id);
      expect(task.holds).toEqual([other?.waitsFor]);
    }
    expect(data.steps.length).toBeGreaterThan(0);
    expect(data.steps.at(-1)?.outcome).toBe('sleeps');
    expect(data.metrics).toBeNull();
    expect(data.cpus).toEqual([0, 1, 2, 3]);
    expect(externalReferences(file)).toEqual([]);
  });

  test('replay of an explore token writes its steps on the machine’s CPUs, with TP_printk text', () => {
    const found = mmsim(['explore', 'loop-bh-deadlock', '--json']);
    const token = (JSON.parse(found.stdout) as { replay: string }).replay;
    const file = join(dir, 'replay.html');
    const { code } = mmsim(['replay', token, '--report', file]);
    expect(code).toBe(EXIT_FINDING);
    const data = reportData(file);
    expect(data.summary).toMatchObject({ command: 'replay', scenario: 'loop-bh-deadlock' });
    expect(data.summary.finding).toMatch(/inversion/);
    // An inversion has no wait-for cycle: nobody sleeps yet.
    expect(data.cycle).toBeNull();
    expect(data.cpus).toEqual([0, 1, 2, 3]);
    expect(data.steps.length).toBeGreaterThan(0);
    const texts = data.steps.flatMap((s) => s.events.map((e) => `${e.name}: ${e.text}`));
    // Formatted with TP_printk (the idle task's switches are left out of step records).
    expect(texts.some((t) => t.startsWith('mm_migrate_pages_start: mode='))).toBe(true);
  });

  test('run of a deadlocking schedule draws the runtime’s cycle, and its replay the same one', () => {
    const file = join(dir, 'run-deadlock.html');
    const { code } = mmsim(['run', 'rfc-lock-order', '--strategy', 'random', '--report', file]);
    expect(code).toBe(EXIT_FINDING);
    const data = reportData(file);
    expect(data.summary.status).toBe('deadlock');
    expect(data.cycle?.tasks.length).toBeGreaterThanOrEqual(2);
    expect(data.cycle?.edges.length).toBe(data.cycle?.tasks.length);
    expect(data.metrics).toBeNull();
    const sleeps = data.steps.filter((s) => s.outcome === 'sleeps').map((s) => s.task?.id);
    for (const task of data.cycle?.tasks ?? []) expect(sleeps).toContain(task.id);
    const token = /^mmsim replay (\S+)$/.exec(data.summary.replayCommand ?? '')?.[1] ?? '';
    const again = join(dir, 'run-deadlock-replay.html');
    expect(mmsim(['replay', token, '--report', again]).code).toBe(EXIT_FINDING);
    const replayed = reportData(again);
    expect(replayed.summary.command).toBe('replay');
    expect(replayed.cycle).toEqual(data.cycle);
    expect(replayed.steps).toEqual(data.steps);
  });

  test('run without a finding writes the counters as charts: IPIs, flushes, migrated, vmstat', () => {
    const file = join(dir, 'run.html');
    const { code } = mmsim(['run', 'pmbench-migrate', '--variant', 'v6.2', '--report', file]);
    expect(code).toBe(EXIT_OK);
    const data = reportData(file);
    const m = data.metrics;
    expect(m).not.toBeNull();
    expect(m?.migrated).toBe(1024);
    expect(m?.ipis).toBeGreaterThan(0);
    // Cumulative samples over virtual time end at the totals.
    expect(m?.series.ipis.at(-1)).toBe(m?.ipis);
    expect(m?.series.migrated.at(-1)).toBe(m?.migrated);
    expect(m?.series.timeUs.length).toBeGreaterThan(10);
    expect(m?.vmstatDeltas).toContainEqual(['pgmigrate_success', 1024]);
    expect(data.cpus).toEqual([0, 1, 2, 3, 4]);
    expect(data.cycle).toBeNull();
  });

  test('a long run keeps its last steps and says how many there were', () => {
    const file = join(dir, 'long.html');
    mmsim(['run', 'pmbench-migrate', '--variant', 'v6.2', '--report', file]);
    const data = reportData(file);
    expect(data.totalSteps).toBeGreaterThan(data.steps.length);
    expect(data.steps.at(-1)?.step).toBe(data.totalSteps);
  });
});

describe('mmsim compare', () => {
  test('runs each variant and puts IPIs, pages per virtual second and virtual time side by side', () => {
    const file = join(dir, 'compare.html');
    const { code, stdout } = mmsim([
      'compare',
      'pmbench-migrate',
      '--variants',
      'v6.2,v6.3',
      '--json',
      '--report',
      file,
    ]);
    expect(code).toBe(EXIT_OK);
    const out = JSON.parse(stdout) as { variants: { variant: string; ipis: number }[] };
    expect(out.variants.map((r) => r.variant)).toEqual(['v6.2', 'v6.3']);
    const [v62, v63] = out.variants;
    // The series' headline: batched flushing sends far fewer IPIs.
    expect(v63?.ipis).toBeLessThan(v62?.ipis ?? 0);
    const data = reportData(file);
    expect(data.compare?.map((r) => r.variant)).toEqual(['v6.2', 'v6.3']);
    for (const row of data.compare ?? []) {
      expect(row.pagesPerVirtualSecond).toBeCloseTo((row.migrated * 1e9) / row.virtualTimeNs);
    }
  });

  test('prints a table by default', () => {
    const { code, stdout } = mmsim(['compare', 'pmbench-migrate', '--variants', 'v6.2,v6.3']);
    expect(code).toBe(EXIT_OK);
    expect(stdout).toMatch(/^variant\s+status\s+IPIs/m);
    expect(stdout).toMatch(/^v6\.2\s+completed\s+\d+/m);
  });

  test.each([
    [['compare', 'pmbench-migrate'], /--variants/],
    [['compare', 'pmbench-migrate', '--variants', 'v6.2'], /two or more/],
    [['compare', 'pmbench-migrate', '--variants', 'v6.2,v9.9'], /--variant must be one of/],
    [['compare', 'pmbench-migrate', '--variants', 'v6.2,v6.2'], /names v6.2 twice/],
    [['compare', 'pmbench-migrate', '--variants', 'v6.2,'], /two or more/],
    [['compare', 'no-such-scenario', '--variants', 'v6.2,v6.3'], /no-such-scenario/],
  ])('bad input %j exits 2 with one line and no stack trace', (args, message) => {
    const { code, stderr } = mmsim(args);
    expect(code).toBe(EXIT_USAGE);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
