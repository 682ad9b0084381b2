import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

/**
 * Bad usage and bad input, one row each: every one exits 2 with one line on stderr that
 * says what is wrong, nothing on stdout, and no stack trace (issue 12, section 3).
 */

const dir = mkdtempSync(join(tmpdir(), 'mmsim-bad-'));
mkdirSync(join(dir, 'a-directory.yaml'));

/** Writes a scenario file into the test folder and returns its path. */
function f(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const machine = 'config: { nodes: [{ pages: 2048 }, { pages: 2048 }] }';
const proc = 'processes: [{ name: app, pages: 16 }]';
const user = (extra: string) =>
  f(
    `user-${extra.replace(/\W+/g, '_')}.yaml`,
    `name: x\n${machine}\n${proc}\nactors: [{ type: user-task, cpu: 1, process: app, accesses: 5, ${extra} }]\n`,
  );
const migr = (extra: string) =>
  f(
    `migr-${extra.replace(/\W+/g, '_')}.yaml`,
    `name: x\n${machine}\n${proc}\nactors: [{ type: migrator, cpu: 0, process: app, mode: MIGRATE_SYNC, reason: MR_SYSCALL, ${extra} }]\n`,
  );
const builtin = (name: string, body: string) => f(name, body);

const CASES: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
  // usage
  ['unknown command', ['frobnicate'], /unknown command/],
  ['unknown option', ['run', 'rfc-lock-order', '--frob'], /unknown option/],
  ['missing scenario', ['run'], /missing required argument/],
  ['unknown scenario', ['run', 'no-such-scenario'], /unknown scenario "no-such-scenario"/],
  ['bad variant', ['run', 'rfc-lock-order', '--variant', 'v5.0'], /--variant must be one of/],
  ['bad seed', ['run', 'rfc-lock-order', '--seed', 'x'], /--seed must be an integer/],
  [
    'negative seed',
    ['run', 'rfc-lock-order', '--seed', '-1'],
    /--seed must be an integer|unknown option/,
  ],
  [
    'bad run strategy',
    ['run', 'rfc-lock-order', '--strategy', 'dfs'],
    /--strategy must be in-order/,
  ],
  [
    'bad explore strategy',
    ['explore', 'rfc-lock-order', '--strategy', 'bfs'],
    /--strategy must be random/,
  ],
  [
    'zero schedules',
    ['explore', 'rfc-lock-order', '--schedules', '0'],
    /--schedules must be an integer >= 1/,
  ],
  [
    'bad schedules',
    ['explore', 'rfc-lock-order', '--schedules', '1e3'],
    /--schedules must be an integer/,
  ],
  [
    'bad max-steps',
    ['run', 'rfc-lock-order', '--max-steps', '0'],
    /--max-steps must be an integer >= 1/,
  ],
  [
    'too many max-steps',
    ['explore', 'rfc-lock-order', '--max-steps', '2000000000'],
    /--max-steps must be at most/,
  ],
  [
    'bad time budget',
    ['run', 'rfc-lock-order', '--time-budget', 'soon'],
    /--time-budget must be a number of seconds/,
  ],
  [
    'zero time budget',
    ['explore', 'rfc-lock-order', '--time-budget', '0'],
    /--time-budget must be a number of seconds/,
  ],
  ['bad replay token', ['replay', 'not-a-token'], /token/],
  ['bad bench suite', ['bench', '--only', 'nope'], /pmbench|scenarios/],
  // files
  [
    'scenario file missing',
    ['run', join(dir, 'missing.yaml')],
    /cannot read scenario file ".*missing\.yaml": no such file or directory \(ENOENT\)/,
  ],
  [
    'scenario file is a directory',
    ['run', join(dir, 'a-directory.yaml')],
    /is a directory \(EISDIR\)/,
  ],
  [
    'trace into a missing folder',
    ['run', 'rfc-lock-order', '--trace', '/nonexistent/x.json'],
    /cannot write "\/nonexistent\/x\.json": no such file or directory/,
  ],
  [
    'ftrace under /proc',
    ['run', 'rfc-lock-order', '--ftrace', '/proc/foo'],
    /cannot write "\/proc\/foo"/,
  ],
  [
    'empty vmstat path',
    ['run', 'rfc-lock-order', '--vmstat', ''],
    /cannot write "": the file name is empty/,
  ],
  [
    'trace into a directory',
    ['run', 'rfc-lock-order', '--trace', dir],
    /is a directory \(EISDIR\)/,
  ],
  ['not JSON', ['run', f('bad.json', '{ nope')], /not valid JSON/],
  ['not YAML', ['run', f('bad.yaml', 'a: [b\n')], /not valid YAML/],
  // built-in files
  ['unknown built-in', ['run', builtin('u.yaml', 'scenario: nope\n')], /scenario must be one of/],
  [
    'unknown top-level key',
    ['run', builtin('k.yaml', 'scenario: rfc-lock-order\nfoo: 1\n')],
    /Unrecognized key|foo/,
  ],
  [
    'params not an object',
    ['run', builtin('p0.yaml', 'scenario: rfc-lock-order\nparams: 5\n')],
    /params/,
  ],
  [
    'huge pages param',
    ['run', builtin('p1.yaml', 'scenario: loop-bh-deadlock\nparams: { pages: 1000000000 }\n')],
    /params\.pages must be an integer in \[1, 256\]/,
  ],
  [
    'string pages param',
    ['run', builtin('p2.yaml', 'scenario: loop-bh-deadlock\nparams: { pages: lots }\n')],
    /params\.pages must be an integer/,
  ],
  [
    'unknown param',
    ['run', builtin('p3.yaml', 'scenario: rfc-lock-order\nparams: { bogus: 1 }\n')],
    /params\.bogus is not a parameter of rfc-lock-order/,
  ],
  [
    'pmbench threads',
    ['run', builtin('p4.yaml', 'scenario: pmbench-migrate\nparams: { threads: 64 }\n')],
    /params\.threads must be an integer in \[1, 63\]/,
  ],
  [
    'pmbench mode',
    ['run', builtin('p5.yaml', 'scenario: pmbench-migrate\nparams: { mode: FAST }\n')],
    /params\.mode must be a migrate mode/,
  ],
  [
    'split order',
    ['run', builtin('p6.yaml', 'scenario: split-lock-deadlock\nparams: { order: 0 }\n')],
    /params\.order must be an integer in \[1, 8\]/,
  ],
  [
    'negative compactions',
    ['run', builtin('p7.yaml', 'scenario: migrate-under-writes\nparams: { compactions: -1 }\n')],
    /params\.compactions must be an integer in \[0/,
  ],
  [
    'zero node pages',
    ['run', builtin('c1.yaml', 'scenario: rfc-lock-order\nconfig: { nodes: [{ pages: 0 }] }\n')],
    /config\.nodes\[0\]\.pages must be/,
  ],
  [
    'bad config variant',
    ['run', builtin('c2.yaml', 'scenario: rfc-lock-order\nconfig: { variant: v9 }\n')],
    /config\.variant must be one of/,
  ],
  [
    'too many steps',
    ['run', builtin('c3.yaml', 'scenario: rfc-lock-order\nconfig: { maxSteps: 2000000000 }\n')],
    /config\.maxSteps must be/,
  ],
  [
    'bad fault spec',
    [
      'run',
      builtin(
        'c4.yaml',
        'scenario: rfc-lock-order\nconfig: { faults: { x: { probability: 2 } } }\n',
      ),
    ],
    /config\.faults\.x\.probability must be a probability in \[0, 1\]/,
  ],
  [
    'built-in on one node: its migrator targets node 1',
    [
      'run',
      builtin(
        'c5.yaml',
        'scenario: pmbench-migrate\nconfig: { nodes: [{ pages: 4096, cpus: 6 }] }\n',
      ),
    ],
    /pmbench-migrate: actor migratepages targets node 1, but the machine has nodes 0\.\.0/,
  ],
  [
    'built-in on one CPU: an actor on CPU 1',
    [
      'explore',
      builtin(
        'c6.yaml',
        'scenario: loop-bh-deadlock\nconfig: { nodes: [{ pages: 4096, cpus: 1 }, { pages: 4096, cpus: 0 }] }\n',
      ),
    ],
    /is on CPU 1, but the machine has CPUs 0\.\.0/,
  ],
  // data files
  [
    'no processes',
    [
      'run',
      f(
        'd1.yaml',
        `name: x\n${machine}\nprocesses: []\nactors: [{ type: user-task, cpu: 0, process: app, accesses: 1 }]\n`,
      ),
    ],
    /processes must list at least one process/,
  ],
  [
    'no actors',
    ['run', f('d2.yaml', `name: x\n${machine}\n${proc}\nactors: []\n`)],
    /actors must list at least one actor/,
  ],
  [
    'bad actor type',
    [
      'run',
      f(
        'd0.yaml',
        `name: x\n${machine}\n${proc}\nactors: [{ type: nope, cpu: 0, process: app }]\n`,
      ),
    ],
    /actors\[0\]\.type must be one of 'user-task', 'migrator'/,
  ],
  [
    'bad name',
    [
      'run',
      f(
        'd3.yaml',
        `name: X Y\n${machine}\n${proc}\nactors: [{ type: user-task, cpu: 0, process: app, accesses: 1 }]\n`,
      ),
    ],
    /name must be a lower-case name/,
  ],
  [
    'unknown process',
    [
      'run',
      f(
        'd4.yaml',
        `name: x\n${machine}\n${proc}\nactors: [{ type: user-task, cpu: 0, process: other, accesses: 1 }]\n`,
      ),
    ],
    /actors\[0\]\.process "other" is not one of the file's processes/,
  ],
  [
    'duplicate process',
    [
      'run',
      f(
        'd5.yaml',
        `name: x\n${machine}\nprocesses: [{ name: app, pages: 1 }, { name: app, pages: 1 }]\nactors: [{ type: user-task, cpu: 0, process: app, accesses: 1 }]\n`,
      ),
    ],
    /processes\[1\]\.name "app" is used twice/,
  ],
  [
    'write ratio above 1',
    ['run', user('writeRatio: 2')],
    /actors\[0\]\.writeRatio must be in \[0, 1\]/,
  ],
  ['bad pattern', ['run', user('pattern: zigzag')], /actors\[0\]\.pattern/],
  [
    'CPU that does not exist',
    [
      'run',
      f(
        'd6.yaml',
        `name: x\n${machine}\n${proc}\nactors: [{ type: user-task, cpu: 9, process: app, accesses: 1 }]\n`,
      ),
    ],
    /actors\[0\]\.cpu is 9, but the machine has 4 CPUs/,
  ],
  [
    'migrator to node 5',
    ['run', migr('rounds: 1, targets: [5]')],
    /actors\[0\]\.targets\[0\] is node 5, but the machine has 2 nodes/,
  ],
  [
    'migrator with no targets',
    ['run', migr('rounds: 1, targets: []')],
    /actors\[0\]\.targets must list at least one node/,
  ],
  [
    'migrator bad mode',
    [
      'run',
      f(
        'd7.yaml',
        `name: x\n${machine}\n${proc}\nactors: [{ type: migrator, cpu: 0, process: app, mode: FAST, reason: MR_SYSCALL, rounds: 1, targets: [1] }]\n`,
      ),
    ],
    /actors\[0\]\.mode/,
  ],
  [
    'process larger than memory',
    [
      'run',
      f(
        'd8.yaml',
        `name: x\nconfig: { nodes: [{ pages: 64 }] }\nprocesses: [{ name: app, pages: 64 }]\nactors: [{ type: user-task, cpu: 0, process: app, accesses: 1 }]\n`,
      ),
    ],
    /processes\[0\]\.pages app does not fit in memory/,
  ],
  [
    "too many processes' pages",
    [
      'run',
      f(
        'd9.yaml',
        `name: x\nconfig: { nodes: [{ pages: 4194304 }, { pages: 4194304 }] }\nprocesses: [{ name: a, pages: 200000 }, { name: b, pages: 200000 }]\nactors: [{ type: user-task, cpu: 0, process: a, accesses: 1 }]\n`,
      ),
    ],
    /processes\[1\]\.pages brings the processes to 400000 pages in all; at most 262144/,
  ],
  [
    'machine too large',
    [
      'run',
      f(
        'd10.yaml',
        `name: x\nconfig: { nodes: [{ pages: 16777216 }, { pages: 16 }] }\n${proc}\nactors: [{ type: user-task, cpu: 0, process: app, accesses: 1 }]\n`,
      ),
    ],
    /the machine has 16777232 pages in all; at most 16777216/,
  ],
  [
    'explore a bad file',
    [
      'explore',
      f(
        'd11.yaml',
        `name: x\n${machine}\n${proc}\nactors: [{ type: user-task, cpu: 9, process: app, accesses: 1 }]\n`,
      ),
    ],
    /actors\[0\]\.cpu is 9/,
  ],
];

describe('bad usage and input: exit 2, one line on stderr, no stack trace', () => {
  test('the table has at least 40 rows', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  test.each(CASES)('%s', (_name, args, message) => {
    const { code, stdout, stderr } = mmsim(args);
    expect(code).toBe(EXIT_USAGE);
    expect(stderr).toMatch(message);
    // commander adds its "(run mmsim --help for usage)" hint after its own errors.
    const lines = stderr
      .trimEnd()
      .split('\n')
      .filter((l) => !l.startsWith('(run mmsim --help'));
    expect(lines).toHaveLength(1);
    expect(stderr).not.toMatch(/^\s{4}at /m);
    expect(stdout).toBe('');
  });
});
