import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE, scenarioFileJsonSchema } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

describe('mmsim scenarios', () => {
  test('lists every built-in scenario on one line each', () => {
    const { code, stdout } = mmsim(['scenarios']);
    expect(code).toBe(EXIT_OK);
    const names = stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        'rfc-lock-order',
        'loop-bh-deadlock',
        'loop-writeback-deadlock',
        'split-lock-deadlock',
      ]),
    );
  });
});

describe('mmsim run', () => {
  test('--json has the documented fields, and the summary names what moved', () => {
    const { code, stdout } = mmsim(['run', 'rfc-lock-order', '--json', '--variant', 'v6.3']);
    expect(code).toBe(EXIT_OK);
    const r = JSON.parse(stdout) as Record<string, unknown>;
    expect(r).toMatchObject({
      scenario: 'rfc-lock-order',
      variant: 'v6.3',
      seed: 1,
      finding: null,
    });
    expect(r.vmstat).toMatchObject({ pgmigrate_success: expect.any(Number) });
    expect(r.tlb).toEqual({
      ipis: expect.any(Number),
      flushes: expect.any(Number),
      shootdowns: expect.any(Number),
    });
    expect(typeof r.virtualTimeNs).toBe('number');
    const text = mmsim(['run', 'rfc-lock-order', '--variant', 'v6.3']).stdout;
    expect(text).toMatch(/migrated: \d+ pages, failed: \d+ pages/);
    expect(text).toContain('finding: none');
  });

  test('a run token replays to the same summary', () => {
    const first = mmsim(['run', 'loop-writeback-deadlock', '--strategy', 'random', '--seed', '11']);
    const token = /replay: mmsim replay (\S+)/.exec(first.stdout)![1]!;
    const again = mmsim(['replay', token]);
    expect(again.code).toBe(first.code);
    const strip = (s: string) => s.replace(/strategy \w+/, 'strategy *');
    expect(strip(again.stdout)).toBe(strip(first.stdout));
  });

  test('writes ftrace text, Perfetto JSON and vmstat files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-cli-'));
    const files = {
      trace: join(dir, 'run.json'),
      ftrace: join(dir, 'run.trace'),
      vmstat: join(dir, 'vmstat'),
    };
    const { code } = mmsim([
      'run',
      'rfc-lock-order',
      '--trace',
      files.trace,
      '--ftrace',
      files.ftrace,
      '--vmstat',
      files.vmstat,
    ]);
    expect(code).toBe(EXIT_OK);
    expect(readFileSync(files.ftrace, 'utf8')).toContain('mm_migrate_pages_start: mode=MIGRATE_');
    const doc = JSON.parse(readFileSync(files.trace, 'utf8')) as {
      metadata: Record<string, unknown>;
    };
    expect(doc.metadata).toMatchObject({ scenario: 'rfc-lock-order', variant: 'rfc-2022' });
    expect(readFileSync(files.vmstat, 'utf8')).toMatch(/^pgmigrate_success \d+$/m);
  });
});

describe('mmsim explore and replay', () => {
  test('finds the RFC inversion or deadlock in rfc-2022 (exit 1) and nothing in v6.3 (exit 0)', () => {
    const bad = mmsim([
      'explore',
      'rfc-lock-order',
      '--strategy',
      'pct',
      '--schedules',
      '300',
      '--json',
    ]);
    expect(bad.code).toBe(EXIT_FINDING);
    const found = JSON.parse(bad.stdout) as Record<string, unknown>;
    expect(found).toMatchObject({ scenario: 'rfc-lock-order', variant: 'rfc-2022', found: true });
    expect(['deadlock', 'inversion']).toContain(found.kind);
    const replay = mmsim(['replay', found.replay as string]);
    expect(replay.code).toBe(EXIT_FINDING);
    expect(replay.stdout).toContain(`${found.kind}`);
    const good = mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--schedules',
      '100',
      '--json',
    ]);
    expect(good.code).toBe(EXIT_OK);
    expect(JSON.parse(good.stdout)).toMatchObject({ found: false, kind: null, schedules: 100 });
  });

  test('without a terminal, a short search prints no progress lines (at most one every few seconds)', () => {
    const r = mmsim(['explore', 'rfc-lock-order', '--variant', 'v6.3', '--schedules', '20'], {
      env: { CI: 'true' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('nothing found in 20 schedules');
  });
});

describe('bad usage and input exit 2 with a message that says what to fix', () => {
  test.each([
    [['run', 'no-such-scenario'], /unknown scenario "no-such-scenario"/],
    [['run', 'rfc-lock-order', '--variant', 'v5.0'], /--variant must be one of/],
    [['run', 'rfc-lock-order', '--seed', 'x'], /--seed must be an integer/],
    [['explore', 'rfc-lock-order', '--strategy', 'bfs'], /--strategy must be random, pct/],
    [['replay', 'not-a-token'], /replay token/],
    [['frobnicate'], /unknown command/],
  ])('%j', (args, message) => {
    const r = mmsim(args);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
  });

  test('a scenario file with a bad field is refused naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-cli-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'scenario: rfc-lock-order\nconfig:\n  nodes:\n    - pages: 0\n');
    const r = mmsim(['run', bad]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toContain('config.nodes[0].pages must be');
    const good = join(dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({ scenario: 'rfc-lock-order', config: { variant: 'v6.3', seed: 4 } }),
    );
    const ok = mmsim(['run', good, '--json']);
    expect(ok.code).toBe(EXIT_OK);
    expect(JSON.parse(ok.stdout)).toMatchObject({ variant: 'v6.3', seed: 4 });
  });

  test('the published JSON Schema is the one the code generates', () => {
    const published = JSON.parse(
      readFileSync(new URL('../schema/scenario-file.schema.json', import.meta.url), 'utf8'),
    );
    expect(published).toEqual(scenarioFileJsonSchema());
    expect(mmsim(['schema']).stdout).toContain('"scenario"');
  });
});

describe('the issue examples', () => {
  test('explore loop-bh-deadlock in v6.3-rc1 reports a deadlock and a token; replay --ftrace twice gives identical files', () => {
    const r = mmsim([
      'explore',
      'loop-bh-deadlock',
      '--variant',
      'v6.3-rc1',
      '--disable',
      'page-lock-inversion',
      '--json',
    ]);
    expect(r.code).toBe(EXIT_FINDING);
    const found = JSON.parse(r.stdout) as { kind: string; replay: string };
    expect(found.kind).toBe('deadlock');
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-cli-'));
    const [a, b] = [join(dir, 'a.txt'), join(dir, 'b.txt')];
    expect(mmsim(['replay', found.replay, '--ftrace', a]).code).toBe(EXIT_FINDING);
    expect(mmsim(['replay', found.replay, '--ftrace', b]).code).toBe(EXIT_FINDING);
    const text = readFileSync(a, 'utf8');
    expect(text).toContain('mm_migrate_pages_start');
    expect(readFileSync(b, 'utf8')).toBe(text);
  });

  test('an unknown check name is bad usage', () => {
    const r = mmsim(['explore', 'rfc-lock-order', '--disable', 'no-such-check']);
    expect(r.code).toBe(EXIT_USAGE);
  });
});

describe('mmsim bench', () => {
  test('the pmbench headline: v6.3 sends at most 1% of the IPIs of v6.2', () => {
    const r = mmsim(['bench', '--only', 'pmbench', '--json']);
    expect(r.code).toBe(EXIT_OK);
    const doc = JSON.parse(r.stdout) as { results: Array<{ name: string; value: number }> };
    const ratio = doc.results.find((x) => x.name === 'pmbench.ipi_ratio_v6.3_over_v6.2');
    expect(ratio!.value).toBeLessThanOrEqual(0.01);
    expect(
      doc.results.find((x) => x.name === 'pmbench.virtual_throughput_ratio_v6.3_over_v6.2')!.value,
    ).toBeGreaterThan(1);
    expect(mmsim(['bench', '--only', 'nope']).code).toBe(EXIT_USAGE);
  });

  test('pmbench reports the real-time factor of each variant (virtual seconds per wall second)', () => {
    const r = mmsim(['bench', '--only', 'pmbench', '--json']);
    const doc = JSON.parse(r.stdout) as {
      results: Array<{
        name: string;
        value: number;
        detail?: { wallMs: number; virtualNs: number };
      }>;
    };
    for (const variant of ['v6.2', 'v6.3']) {
      const f = doc.results.find((x) => x.name === `pmbench.${variant}.real_time_factor`);
      expect(f, variant).toBeDefined();
      expect(f!.value).toBeGreaterThan(0);
      expect(f!.value).toBeCloseTo(f!.detail!.virtualNs / 1e9 / (f!.detail!.wallMs / 1000), 9);
    }
  });
});

describe('scenario files with actors', () => {
  const base = {
    name: 'two-threads',
    config: { nodes: [{ pages: 2048 }, { pages: 2048 }], cpusPerNode: 2, variant: 'v6.3' },
    processes: [{ name: 'app', pages: 32 }],
    actors: [
      { type: 'user-task', cpu: 1, process: 'app', accesses: 100 },
      {
        type: 'migrator',
        cpu: 0,
        process: 'app',
        mode: 'MIGRATE_SYNC',
        reason: 'MR_SYSCALL',
        rounds: 2,
        targets: [1, 0],
      },
    ],
  };
  const write = (data: unknown, ext = 'json') => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmsim-cli-')), `s.${ext}`);
    writeFileSync(file, JSON.stringify(data));
    return file;
  };

  test('a file of processes and actors runs, explores and replays', () => {
    const file = write(base);
    const run = mmsim(['run', file, '--json']);
    expect(run.code).toBe(EXIT_OK);
    const r = JSON.parse(run.stdout) as {
      scenario: string;
      vmstat: Record<string, number>;
      replay: string;
    };
    expect(r.scenario).toBe('two-threads');
    expect(r.vmstat.pgmigrate_success).toBe(64);
    const again = mmsim(['replay', r.replay, '--scenario', file, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ scenario: 'two-threads', vmstat: r.vmstat });
    expect(mmsim(['explore', file, '--schedules', '20']).code).toBe(EXIT_OK);
  });

  test.each([
    [
      { actors: [{ ...base.actors[0], type: 'defragmenter' }] },
      /actors\[0\]\.type must be one of 'user-task', 'migrator'/,
    ],
    [
      { actors: [{ ...base.actors[0], accesses: -5 }] },
      /actors\[0\]\.accesses must be a number of accesses/,
    ],
    [{ actors: [{ ...base.actors[0], cpu: 'one' }] }, /actors\[0\]\.cpu must be a CPU number/],
    [
      { actors: [{ ...base.actors[0], process: 'db' }] },
      /actors\[0\]\.process "db" is not one of the file's processes/,
    ],
    [{ config: { ...base.config, variant: 'v7.0' } }, /config\.variant must be one of/],
    [
      { processes: [{ name: 'app', pages: 0 }] },
      /processes\[0\]\.pages must be a number of 4 KiB pages/,
    ],
    [{ actors: [{ ...base.actors[1], mode: 'MIGRATE_FAST' }] }, /actors\[0\]\.mode/],
  ])('a bad file is refused with exit 2 naming the field: %#', (patch, message) => {
    const r = mmsim(['run', write({ ...base, ...patch })]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
  });
});
