import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_MACHINE_PAGES, MAX_STEPS } from '@mmsim/kernel';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { type CliIo, EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { createProgress, PLAIN_PROGRESS_INTERVAL_MS } from '../src/progress.js';
import { scenarioFileJsonSchema } from '../src/scenario-file.js';
import { mmsim, mmsimInterrupted } from './support/mmsim.js';

/**
 * Issue 12, sections 3 and 4: exit codes are honest (0 nothing found, 1 a finding, 2 bad
 * usage or input, 130 interrupted), bad input is one line on stderr with no stack trace,
 * and progress, defaults, version, schema and listing say what the code does.
 */

const CLI = fileURLToPath(new URL('..', import.meta.url));
const ROOT = join(CLI, '..', '..');
const BIN = join(CLI, 'src', 'bin.ts');
const STACK_LINE = /^\s{4}at /m;

/** Runs the real `mmsim` (source, through tsx) as a child process. */
function mmsimProcess(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, CI: 'true', ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mmsim-honest-'));
}

function file(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A data scenario: 2 nodes of 2048 pages, 2 CPUs each, one process, the given actors. */
function dataScenario(over: {
  nodes?: unknown;
  processes?: unknown;
  actors?: unknown;
  config?: Record<string, unknown>;
}): string {
  return JSON.stringify({
    name: 'case',
    config: { nodes: over.nodes ?? [{ pages: 2048 }, { pages: 2048 }], ...over.config },
    processes: over.processes ?? [{ name: 'app', pages: 64 }],
    actors: over.actors ?? [
      { type: 'user-task', cpu: 1, process: 'app', accesses: 50 },
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
  });
}

function expectUsageLine(r: { code: number | null; stderr: string }, pattern: RegExp | string) {
  expect(r.code).toBe(EXIT_USAGE);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(STACK_LINE);
  if (typeof pattern === 'string') expect(r.stderr).toContain(pattern);
  else expect(r.stderr).toMatch(pattern);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('file errors are input errors: one line naming the path and the reason, exit 2', () => {
  test('a directory as the scenario file (EISDIR)', () => {
    const dir = tmp();
    const sub = join(dir, 'scenario.yaml');
    mkdirSync(sub);
    expectUsageLine(
      mmsim(['run', sub]),
      `cannot read scenario file "${sub}": is a directory (EISDIR)`,
    );
  });

  test('a scenario file that does not exist (ENOENT)', () => {
    expectUsageLine(
      mmsim(['run', '/nonexistent/s.json']),
      'cannot read scenario file "/nonexistent/s.json": no such file or directory (ENOENT)',
    );
  });

  test('--trace /nonexistent/x.json', () => {
    expectUsageLine(
      mmsim(['run', 'rfc-lock-order', '--trace', '/nonexistent/x.json']),
      'cannot write "/nonexistent/x.json": no such file or directory (ENOENT)',
    );
  });

  test('--ftrace /proc/foo', () => {
    expectUsageLine(
      mmsim(['run', 'rfc-lock-order', '--ftrace', '/proc/foo']),
      /cannot write "\/proc\/foo": .*\((ENOENT|EACCES|EROFS|EPERM)\)/,
    );
  });

  test("--vmstat ''", () => {
    expectUsageLine(
      mmsim(['run', 'rfc-lock-order', '--vmstat', '']),
      'cannot write "": the file name is empty',
    );
  });

  test('--trace into a directory (EISDIR)', () => {
    const dir = tmp();
    expectUsageLine(
      mmsim(['run', 'rfc-lock-order', '--trace', dir]),
      `cannot write "${dir}": is a directory (EISDIR)`,
    );
  });

  test('--trace - writes the Perfetto trace to stdout and creates no file named -', () => {
    const r = mmsimProcess(['run', 'rfc-lock-order', '--variant', 'v6.3', '--trace', '-']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT_OK);
    expect(r.stdout).toContain('"traceEvents"');
    expect(r.stdout).toContain('mmsim run rfc-lock-order');
    expect(existsSync(join(ROOT, '-'))).toBe(false);
  });

  test('the real process prints the one line and no stack trace (EISDIR)', () => {
    const r = mmsimProcess(['run', tmp()]);
    expectUsageLine(r, /^mmsim: cannot read scenario file ".*": is a directory \(EISDIR\)$/m);
  });
});

describe('inconsistent input is refused before the run, naming the field', () => {
  test('a migrator targeting node 5 of a 2-node machine', () => {
    const dir = tmp();
    const path = file(
      dir,
      'n5.json',
      dataScenario({
        actors: [
          {
            type: 'migrator',
            cpu: 0,
            process: 'app',
            mode: 'MIGRATE_SYNC',
            reason: 'MR_SYSCALL',
            rounds: 1,
            targets: [1, 5],
          },
        ],
      }),
    );
    expectUsageLine(
      mmsim(['run', path]),
      'actors[0].targets[1] is node 5, but the machine has 2 nodes (0 to 1)',
    );
  });

  test('processes larger than the memory of the machine', () => {
    const dir = tmp();
    const path = file(
      dir,
      'big.json',
      dataScenario({
        nodes: [{ pages: 64 }, { pages: 64 }],
        processes: [{ name: 'app', pages: 200 }],
      }),
    );
    expectUsageLine(mmsim(['run', path]), /processes\[0\]\.pages app does not fit in memory/);
    expectUsageLine(mmsim(['explore', path]), /processes\[0\]\.pages app does not fit in memory/);
  });

  test('a process larger than node 0 but not the machine runs: the kernel falls back to node 1', () => {
    const dir = tmp();
    const path = file(
      dir,
      'fallback.json',
      dataScenario({
        nodes: [{ pages: 64 }, { pages: 64 }],
        processes: [{ name: 'app', pages: 100 }],
        actors: [{ type: 'user-task', cpu: 1, process: 'app', accesses: 10 }],
      }),
    );
    const r = mmsim(['run', path, '--json']);
    expect(r.code).toBe(EXIT_OK);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', finding: null });
  });

  test('an actor on a CPU that does not exist', () => {
    const dir = tmp();
    const path = file(
      dir,
      'cpu.json',
      dataScenario({ actors: [{ type: 'user-task', cpu: 4, process: 'app', accesses: 10 }] }),
    );
    expectUsageLine(
      mmsim(['run', path]),
      'actors[0].cpu is 4, but the machine has 4 CPUs (0 to 3)',
    );
    const three = file(
      dir,
      'cpu3.json',
      dataScenario({ actors: [{ type: 'user-task', cpu: 3, process: 'app', accesses: 10 }] }),
    );
    expect(mmsim(['run', three]).code).toBe(EXIT_OK);
  });
});

describe('built-in scenario parameters are checked by their schema', () => {
  test.each([
    ['{ pages: 1000000000 }', 'params.pages must be an integer in [1, 256]'],
    ['{ pages: "lots" }', 'params.pages must be an integer in [1, 256]'],
    ['{ pages: 2.5 }', 'params.pages must be an integer in [1, 256]'],
    [
      '{ bogus: 1 }',
      'params.bogus is not a parameter of loop-bh-deadlock; known: pages, compactions, writes',
    ],
  ])('loop-bh-deadlock params %s', (params, message) => {
    const dir = tmp();
    const path = file(dir, 's.yaml', `scenario: loop-bh-deadlock\nparams: ${params}\n`);
    expectUsageLine(mmsim(['run', path]), message);
  });

  test('valid parameters run, a mode by name included', () => {
    const dir = tmp();
    const path = file(
      dir,
      's.yaml',
      'scenario: pmbench-migrate\nparams: { pages: 16, roundTrips: 1, mode: MIGRATE_ASYNC }\n',
    );
    const r = mmsim(['run', path, '--json']);
    expect(r.code).toBe(EXIT_OK);
    expect(JSON.parse(r.stdout).vmstat.pgmigrate_success).toBe(32);
  });
});

describe('limits', () => {
  test(`a machine of more than MAX_MACHINE_PAGES (${MAX_MACHINE_PAGES}) frames is refused`, () => {
    const dir = tmp();
    const nodes = Array.from({ length: 5 }, () => ({ pages: 1 << 22 }));
    const path = file(
      dir,
      'huge.json',
      dataScenario({ nodes, actors: [{ type: 'user-task', cpu: 0, process: 'app', accesses: 1 }] }),
    );
    expectUsageLine(
      mmsim(['run', path]),
      /nodes: the machine has 20971520 pages in all; at most 16777216/,
    );
  });

  test(`maxSteps above MAX_STEPS (${MAX_STEPS}) is refused, in a file and as --max-steps`, () => {
    const dir = tmp();
    const path = file(
      dir,
      's.yaml',
      `scenario: rfc-lock-order\nconfig: { maxSteps: ${MAX_STEPS + 1} }\n`,
    );
    expectUsageLine(mmsim(['run', path]), /config\.maxSteps must be a number of scheduling points/);
    expectUsageLine(
      mmsim(['explore', 'rfc-lock-order', '--max-steps', String(MAX_STEPS + 1)]),
      `--max-steps must be at most ${MAX_STEPS}`,
    );
  });

  test('run --max-steps ends the run at that step (a step-limit finding, exit 1)', () => {
    const r = mmsim(['run', 'rfc-lock-order', '--variant', 'v6.3', '--max-steps', '20', '--json']);
    expect(r.code).toBe(EXIT_FINDING);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'step-limit', steps: 20 });
  });

  test('explore --max-steps makes a longer schedule a step-limit finding', () => {
    const r = mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--max-steps',
      '20',
      '--schedules',
      '5',
      '--json',
    ]);
    expect(r.code).toBe(EXIT_FINDING);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: true, kind: 'step-limit' });
  });

  test('explore --time-budget stops the search when the time is spent (exit 0)', () => {
    const r = mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--time-budget',
      '0.2',
      '--schedules',
      '1000000',
      '--json',
    ]);
    expect(r.code).toBe(EXIT_OK);
    const out = JSON.parse(r.stdout);
    expect(out.stoppedBy).toBe('time');
    expect(out.schedules).toBeLessThan(1_000_000);
  });

  test('run --time-budget stops the run when the time is spent (status time-budget, exit 0)', () => {
    const dir = tmp();
    const path = file(
      dir,
      'long.json',
      dataScenario({ actors: [{ type: 'user-task', cpu: 1, process: 'app', accesses: 1e9 }] }),
    );
    const r = mmsim(['run', path, '--time-budget', '0.2', '--json']);
    expect(r.code).toBe(EXIT_OK);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'time-budget' });
  });

  test('Ctrl-C (in-process): the exploration prints its partial summary and exits 130', () => {
    const r = mmsim(['explore', 'rfc-lock-order', '--variant', 'v6.3', '--schedules', '1000'], {
      interruptAfter: 7,
    });
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('interrupted after 7 schedule(s); nothing found so far');
    const json = mmsim(
      ['explore', 'rfc-lock-order', '--variant', 'v6.3', '--schedules', '1000', '--json'],
      { interruptAfter: 3 },
    );
    expect(json.code).toBe(130);
    expect(JSON.parse(json.stdout)).toMatchObject({
      schedules: 3,
      found: false,
      stoppedBy: 'interrupted',
    });
  });

  test('Ctrl-C (a real SIGINT to the process): partial summary, exit 130, no stack trace', async () => {
    // Ctrl-C once the search is under way: after its first progress line (the worker has
    // loaded and done schedules), however long a loaded machine takes to get there.
    const underWay = /explore rfc-lock-order@v6\.3: [1-9]\d*\/10000000 schedules/;
    const { code, stdout, stderr } = await mmsimInterrupted(
      ['explore', 'rfc-lock-order', '--variant', 'v6.3', '--schedules', '10000000'],
      underWay,
    );
    expect(stderr).toMatch(underWay);
    expect(code).toBe(130);
    expect(stdout).toMatch(/interrupted after [1-9]\d* schedule\(s\); nothing found so far/);
    expect(stderr).not.toMatch(STACK_LINE);
  }, 180_000);
});

describe('progress and defaults', () => {
  test('off a terminal, progress prints at most a line every few seconds', () => {
    let clock = 0;
    const lines: string[] = [];
    const io = {
      stdout: () => {},
      stderr: (s: string) => lines.push(s),
      isTTY: false,
      env: {},
      openOutput: () => ({ write() {}, close() {} }),
    } satisfies CliIo;
    const total = 30_957;
    const progress = createProgress(io, 'explore x', total, () => clock);
    // 30,957 schedules in 40 s: today's one line per schedule.
    for (let done = 1; done <= total; done++) {
      clock += 40_000 / total;
      progress.update(done);
    }
    progress.stop();
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(40_000 / PLAIN_PROGRESS_INTERVAL_MS));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^explore x: \d+\/30957 schedules\n$/);
  });

  test('the progress counts schedules done, not the total', () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => {
      now += PLAIN_PROGRESS_INTERVAL_MS;
      return now;
    });
    const r = mmsim(['explore', 'rfc-lock-order', '--variant', 'v6.3', '--schedules', '6'], {
      env: { CI: 'true' },
    });
    const counts = [...r.stderr.matchAll(/: (\d+)\/6 schedules/g)].map((m) => Number(m[1]));
    expect(counts.length).toBeGreaterThan(2);
    expect(counts[0]).toBeLessThan(6);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
  });

  test("a data scenario's default strategy interleaves its actors (lowest-clock); in-order starves the migrator", () => {
    const dir = tmp();
    const path = file(
      dir,
      'starve.json',
      dataScenario({
        actors: [
          { type: 'user-task', cpu: 1, process: 'app', accesses: 200_000, writeRatio: 1 },
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
      }),
    );
    const byDefault = JSON.parse(mmsim(['run', path, '--max-steps', '100000', '--json']).stdout);
    expect(byDefault.strategy).toBe('lowest-clock');
    expect(byDefault.vmstat.pgmigrate_success).toBeGreaterThan(0);
    const inOrder = JSON.parse(
      mmsim(['run', path, '--max-steps', '100000', '--strategy', 'in-order', '--json']).stdout,
    );
    expect(inOrder.vmstat.pgmigrate_success ?? 0).toBe(0);
  });

  test('--help says what the default strategy is and why', () => {
    const r = mmsim(['run', '--help']);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(
      'a scenario file written as data defaults to lowest-clock, which interleaves its actors',
    );
  });

  test('mmsim --version prints the package version (exit 0)', () => {
    const pkg = JSON.parse(readFileSync(join(CLI, 'package.json'), 'utf8')) as { version: string };
    const r = mmsim(['--version']);
    expect(r.code).toBe(EXIT_OK);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(mmsimProcess(['--version']).stdout).toBe(`${pkg.version}\n`);
  });

  test('the JSON Schema has a description for every field', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) walk(n, `${path}[${i}]`);
        return;
      }
      if (typeof node !== 'object' || node === null) return;
      const o = node as Record<string, unknown>;
      if (typeof o.properties === 'object' && o.properties !== null) {
        for (const [key, value] of Object.entries(o.properties)) {
          if (typeof (value as { description?: unknown }).description !== 'string') {
            missing.push(`${path}.${key}`);
          }
        }
      }
      for (const [key, value] of Object.entries(o)) walk(value, `${path}/${key}`);
    };
    walk(scenarioFileJsonSchema(), '');
    expect(missing).toEqual([]);
  });

  test('mmsim schema prints exactly the checked-in schema file', () => {
    const published = readFileSync(join(CLI, 'schema', 'scenario-file.schema.json'), 'utf8');
    expect(mmsim(['schema']).stdout).toBe(published);
  });

  test('mmsim scenarios shows the variants with the bug and the fixing variant', () => {
    const r = mmsim(['scenarios']);
    const line = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `));
    expect(line('loop-bh-deadlock')).toMatch(/bug in v6\.3-rc1, rfc-2022; fixed in v6\.3 /);
    expect(line('rfc-lock-order')).toMatch(/bug in rfc-2022; fixed in v6\.3-rc1 /);
    expect(line('split-lock-deadlock')).toMatch(/bug in v6\.10; fixed in v6\.11 /);
    const json = JSON.parse(mmsim(['scenarios', '--json']).stdout) as Array<{
      name: string;
      bugIn: string[] | null;
      fixedBy: string | null;
    }>;
    expect(json.find((s) => s.name === 'loop-writeback-deadlock')).toMatchObject({
      bugIn: ['v6.3-rc1', 'rfc-2022'],
      fixedBy: 'v6.3',
    });
  });

  test("--json's strategy is always a string, as --strategy takes it", () => {
    const pct = mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--strategy',
      'pct:5',
      '--schedules',
      '2',
      '--json',
    ]);
    expect(JSON.parse(pct.stdout).strategy).toBe('pct:5');
    const dfs = mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--strategy',
      'dfs:1',
      '--schedules',
      '2',
      '--json',
    ]);
    expect(JSON.parse(dfs.stdout).strategy).toBe('dfs:1');
    const run = mmsim(['run', 'rfc-lock-order', '--variant', 'v6.3', '--json']);
    expect(JSON.parse(run.stdout).strategy).toBe('in-order');
    const runPct = mmsim(['run', 'rfc-lock-order', '--strategy', 'pct:5', '--json']);
    expect(JSON.parse(runPct.stdout).strategy).toBe('pct:5');
  });

  test('pnpm mmsim resolves relative paths against the folder it was started from (INIT_CWD)', () => {
    const dir = tmp();
    file(
      dir,
      'here.json',
      dataScenario({ actors: [{ type: 'user-task', cpu: 1, process: 'app', accesses: 5 }] }),
    );
    // What `pnpm mmsim` does from a sub-folder: runs bin.ts at the root with INIT_CWD set.
    const r = mmsimProcess(['run', 'here.json'], {
      cwd: ROOT,
      env: { npm_lifecycle_event: 'mmsim', INIT_CWD: dir },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT_OK);
    expect(r.stdout).toContain('mmsim run case');
  });

  test('every package of the repository has the mmsim script, so pnpm mmsim works in its folder', () => {
    for (const parent of ['packages', 'tools']) {
      const list = spawnSync('ls', [join(ROOT, parent)], { encoding: 'utf8' }).stdout.split('\n');
      for (const name of list.filter((n) => n !== '' && !n.includes('.'))) {
        const pkg = JSON.parse(readFileSync(join(ROOT, parent, name, 'package.json'), 'utf8'));
        expect(pkg.scripts?.mmsim, `${parent}/${name}`).toBe('pnpm --workspace-root mmsim');
      }
    }
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(root.scripts.mmsim).toContain('packages/cli/src/bin.ts');
    expect(dirname(BIN)).toBe(join(ROOT, 'packages', 'cli', 'src'));
  });
});
