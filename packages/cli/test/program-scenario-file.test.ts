import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

const dir = mkdtempSync(join(tmpdir(), 'mmsim-programs-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A program: fork, a loop of stores, a load the child checks, a call that fails with EINVAL. */
function programFile(errno = 'EINVAL', extra = ''): string {
  return [
    'name: fork-and-munmap',
    'config: { nodes: [{ pages: 512 }, { pages: 512 }], cpusPerNode: 2 }',
    'actors:',
    '  - type: program',
    '    processes:',
    '      - name: test',
    '        threads:',
    '          - cpu: 0',
    '            steps:',
    '              - { call: mmap, args: { length: 4 * PAGE_SIZE }, as: buf }',
    '              - { repeat: 4, as: i, steps: [{ write: buf + i*PAGE_SIZE, value: i + 1 }] }',
    '              - fork:',
    '                  cpu: 2',
    '                  steps:',
    '                    - { read: buf + PAGE_SIZE * seq(4), expect: { value: [1, 2, 3, 4] } }',
    '                    - { exit: 3 }',
    '                as: child',
    '              - { wait: child, expect: { ret: 3 } }',
    `              - { call: munmap, args: { addr: buf + 1, length: 4096 }, expect: { ret: -1, errno: ${errno} } }`,
    '              - { call: munmap, args: { addr: buf, length: 4 * PAGE_SIZE }, expect: { ret: 0 } }',
    extra,
    '',
  ].join('\n');
}

describe('the program actor of scenario files', () => {
  test('mmsim run of a program whose expectations hold exits 0', () => {
    const run = mmsim(['run', file('ok.yaml', programFile())]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('finding: none');
    expect(run.code).toBe(EXIT_OK);
  });

  test('a wrong expectation: run exits 1 with the step, expected and actual; explore finds it; replay reproduces it', () => {
    const path = file('wrong.yaml', programFile('ENOMEM'));
    const run = mmsim(['run', path]);
    expect(run.code).toBe(EXIT_FINDING);
    expect(run.stdout).toContain('finding: expectation:');
    expect(run.stdout).toContain('steps[4] munmap: errno expected "ENOMEM", got "EINVAL"');
    expect(run.stdout).toMatch(/expected: ENOMEM\n {2}\| {3}actual: {3}EINVAL/);

    const explore = mmsim(['explore', path, '--schedules', '10', '--json']);
    expect(explore.code).toBe(EXIT_FINDING);
    const found = JSON.parse(explore.stdout) as { kind: string; message: string; replay: string };
    expect(found.kind).toBe('expectation');
    expect(found.message).toContain('munmap: errno expected "ENOMEM", got "EINVAL"');

    const replay = mmsim(['replay', found.replay, '--scenario', path]);
    expect(replay.code).toBe(EXIT_FINDING);
    expect(replay.stdout).toContain('expectation in target "fork-and-munmap@v6.3"');
    expect(replay.stdout).toMatch(/expected: ENOMEM\n {2}actual: {3}EINVAL/);
  });

  test.each([
    [
      'a call the table does not have',
      '              - { call: no_such_call }',
      /^.*: actors\[0\]\.processes\[0\]\.threads\[0\]\.steps\[6\]\.call must be a system call of the table \(mmap, munmap/,
    ],
    [
      'an argument of the wrong type',
      '              - { call: munmap, args: { addr: true, length: 1 } }',
      /actors\[0\]\.processes\[0\]\.threads\[0\]\.steps\[6\]\.args\.addr must be a number or an expression$/,
    ],
    [
      'an argument the call does not take',
      '              - { call: munmap, args: { addr: buf, length: 1, len: 2 } }',
      /steps\[6\]\.args Unrecognized key\(s\) in object: 'len'$/,
    ],
    [
      'a name no earlier step defines',
      '              - { write: buff, value: 1 }',
      /steps\[6\]\.write "buff" reads buff, which no earlier step names \(names so far: buf, i, child\)$/,
    ],
    [
      'a step with two kinds',
      '              - { write: buf, read: buf, value: 1 }',
      /steps\[6\] has write and read: give one step kind per step$/,
    ],
    [
      'an expression that does not parse',
      '              - { write: buf +, value: 1 }',
      /steps\[6\]\.write "buf \+" is not an expression: a value is missing at its end$/,
    ],
  ])('%s is bad input: exit 2, one line naming the field', (_what, step, message) => {
    const run = mmsim(['run', file('bad.yaml', programFile('EINVAL', step))]);
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(message);
  });

  test('a thread or a forked child on a CPU the machine does not have is bad input', () => {
    const run = mmsim(['run', file('cpu.yaml', programFile().replace('cpu: 2', 'cpu: 9'))]);
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.stderr.trim()).toMatch(
      /actors\[0\]\.processes\[0\]\.threads\[0\]\.steps\[2\]\.fork\.cpu is 9, but the machine has 4 CPUs \(0 to 3\)$/,
    );
  });
});
