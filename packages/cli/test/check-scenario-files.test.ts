import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIO_NAMES } from '@mmsim/scenarios';
import { describe, expect, test } from 'vitest';
import { EXIT_INTERRUPTED } from '../src/exit-codes.js';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim, mmsimInterrupted } from './support/mmsim.js';

const STACK_LINE = /\n\s+at /;

interface Row {
  scenario: string;
  file?: string;
  result: string;
  kind: string | null;
  expected: string;
  replay: string | null;
  replayCommand: string | null;
}

function tmpFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mmsim-check-files-')), name);
  writeFileSync(path, text);
  return path;
}

/** A small data-driven scenario: one process, a user task and move_pages. */
function dataScenario(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name: 'my-case',
    config: { nodes: [{ pages: 512 }, { pages: 512 }] },
    processes: [{ name: 'app', pages: 8 }],
    actors: [
      { type: 'user-task', cpu: 1, process: 'app', accesses: 8 },
      {
        type: 'migrator',
        cpu: 0,
        process: 'app',
        mode: 'MIGRATE_SYNC',
        reason: 'MR_SYSCALL',
        rounds: 1,
        targets: [1],
      },
    ],
    ...extra,
  });
}

function checkJson(args: readonly string[]) {
  const r = mmsim(['check', ...args, '--json']);
  return { ...r, parsed: JSON.parse(r.stdout) as { rows: Row[]; stoppedBy?: string } };
}

describe('mmsim check --scenario FILE', () => {
  test('a data scenario file joins the matrix after the built-ins, with its declared history', () => {
    const path = tmpFile(
      'mine.json',
      dataScenario({ history: { deadlocksIn: [], fixedIn: ['v6.2', 'my-variant'] } }),
    );
    const { code, parsed } = checkJson([
      '--variant',
      'v6.2',
      '--schedules',
      '2',
      '--scenario',
      path,
    ]);
    // v6.2: every built-in scenario is clean there (v6.3 has the regressions it shipped).
    expect(code).toBe(EXIT_OK);
    expect(parsed.rows.map((r) => r.scenario)).toEqual([...SCENARIO_NAMES, 'my-case']);
    const mine = parsed.rows.at(-1)!;
    expect(mine).toMatchObject({ file: path, result: 'clean', expected: 'fixed' });
    expect(parsed.rows.slice(0, -1).every((r) => r.file === undefined)).toBe(true);
    const text = mmsim(['check', '--variant', 'v6.2', '--schedules', '2', '--scenario', path]);
    expect(text.stdout).toMatch(/^my-case \(.*mine\.json\)\s+clean for \d+ schedules/m);
  });

  test('a file without a history is still checked (not skipped as a benchmark), expected unrecorded', () => {
    const path = tmpFile('nohistory.yaml', dataScenario());
    const { parsed } = checkJson(['--variant', 'v6.3', '--schedules', '1', '--scenario', path]);
    const mine = parsed.rows.find((r) => r.file === path);
    expect(mine).toMatchObject({ result: 'clean', expected: 'unrecorded' });
  });

  test("a built-in scenario's file keeps the built-in's history; its finding replays with --scenario FILE", () => {
    const path = tmpFile(
      'rfc.yaml',
      'scenario: rfc-lock-order\nconfig:\n  seed: 3\n  variant: v6.3\n',
    );
    const { code, parsed } = checkJson([
      '--variant',
      'rfc-2022',
      '--schedules',
      '20',
      '--scenario',
      path,
    ]);
    expect(code).toBe(EXIT_FINDING);
    const mine = parsed.rows.find((r) => r.file === path)!;
    expect(mine).toMatchObject({ scenario: 'rfc-lock-order', result: 'finding', expected: 'bug' });
    expect(mine.replayCommand).toContain(`--scenario ${path}`);
    const replay = mmsim(['replay', mine.replay!, '--scenario', path, '--json']);
    expect(replay.code).toBe(EXIT_FINDING);
    expect(JSON.parse(replay.stdout).finding.kind).toBe(mine.kind);
  });

  test.each([
    [['--scenario', 'rfc-lock-order'], /--scenario takes a scenario file/],
    [['--scenario', '/nonexistent/x.json'], /cannot read scenario file/],
  ])('bad --scenario %j exits 2 with one line on stderr', (extra, message) => {
    const r = mmsim(['check', '--variant', 'v6.3', ...extra]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stdout).toBe('');
  });

  test('a history that is not a list names the field', () => {
    const path = tmpFile(
      'bad.json',
      dataScenario({ history: { deadlocksIn: 'v6.3', fixedIn: [] } }),
    );
    const r = mmsim(['check', '--variant', 'v6.3', '--scenario', path]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(/bad\.json: history\.deadlocksIn /);
  });
});

describe('Ctrl-C during mmsim check', () => {
  test('in-process: the matrix so far, a line saying where it stopped, exit 130', () => {
    const r = mmsim(['check', '--variant', 'v6.3', '--schedules', '5'], { interruptAfter: 20 });
    expect(r.code).toBe(EXIT_INTERRUPTED);
    expect(r.stdout).toMatch(/^pmbench-migrate\s+skipped: benchmark/m);
    expect(r.stdout).toMatch(/^rfc-lock-order\s+clean for \d+ schedules/m);
    const m = /interrupted after (\d+) of (\d+) scenario\(s\)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(Number(m![2]));
    const json = mmsim(['check', '--variant', 'v6.3', '--schedules', '5', '--json'], {
      interruptAfter: 3,
    });
    expect(json.code).toBe(EXIT_INTERRUPTED);
    const parsed = JSON.parse(json.stdout) as { rows: Row[]; stoppedBy: string };
    expect(parsed.stoppedBy).toBe('interrupted');
    expect(parsed.rows.length).toBeLessThan(SCENARIO_NAMES.length);
  });

  test('a real SIGINT to the process: the matrix so far, exit 130, no stack trace', async () => {
    // Ctrl-C once the search is under way (the worker has loaded).
    const { code, stdout, stderr } = await mmsimInterrupted([
      'check',
      '--variant',
      'v6.3',
      '--schedules',
      '10000000',
    ]);
    expect(code).toBe(EXIT_INTERRUPTED);
    expect(stdout).toMatch(/^pmbench-migrate\s+skipped: benchmark/m);
    expect(stdout).toMatch(/interrupted after \d+ of \d+ scenario\(s\)/);
    expect(stderr).not.toMatch(STACK_LINE);
  }, 60_000);
});
