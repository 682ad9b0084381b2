import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeReplayToken } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

/** The words of a printed `mmsim ...` command, as a shell splits them (plain and '...' words). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (const m of line.matchAll(re)) {
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  }
  return words;
}

/** The `replay:` line's command, run as pasted (without the leading `mmsim`). */
function pasted(stdout: string, isTTY = false) {
  const line = /^replay: (mmsim replay .*)$/m.exec(stdout)?.[1];
  if (line === undefined) throw new Error(`no replay line in:\n${stdout}`);
  const words = shellWords(line);
  expect(words[0]).toBe('mmsim');
  return { line, result: mmsim(words.slice(1), { isTTY }) };
}

/** A run's summary, but for the strategy (a replay runs under the `replay` strategy). */
function summary(stdout: string): string {
  return stdout.replace(/, strategy \S+\n/, ', strategy ...\n');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mmsim-replay-'));
}

const RFC_DEADLOCK = [
  'explore',
  'rfc-lock-order',
  '--variant',
  'rfc-2022',
  '--strategy',
  'pct',
  '--schedules',
  '1000',
  '--seed',
  '1',
  '--disable',
  'page-lock-inversion',
];

/** The finding part of `explore`'s or `replay`'s text output: the report, cycle and steps. */
function findingText(stdout: string): string {
  return stdout.slice(stdout.indexOf('\ndeadlock in target'));
}

describe('replay reproduces what explore found', () => {
  test('explore --disable page-lock-inversion, then replay <token>: the same kind, cycle and steps', () => {
    const found = mmsim(RFC_DEADLOCK);
    expect(found.code).toBe(EXIT_FINDING);
    expect(found.stdout).toContain('deadlock in target "rfc-lock-order@rfc-2022"');
    const { result: again } = pasted(found.stdout);
    expect(again.code).toBe(EXIT_FINDING);
    expect(again.stderr).toBe('');
    expect(again.stdout).toContain('mmsim replay of rfc-lock-order@rfc-2022:\ndeadlock in target');
    expect(again.stdout).not.toContain('inversion');
    // Header, wait-for cycle, replay command and every numbered step are the same.
    expect(findingText(again.stdout)).toBe(findingText(found.stdout));
    expect(findingText(found.stdout)).toMatch(/wait-for cycle of 2 task\(s\)[\s\S]*\n +1[*! ] /);
  });

  test('replay --json carries the whole result: status, finding, steps, vmstat, tlb', () => {
    const found = JSON.parse(mmsim([...RFC_DEADLOCK, '--json']).stdout) as { replay: string };
    const r = mmsim(['replay', found.replay, '--json']);
    expect(r.code).toBe(EXIT_FINDING);
    const json = JSON.parse(r.stdout) as {
      steps: number;
      finding: { kind: string; deadlock: { cycle: unknown[] }; report: string };
      schedule: { step: number }[];
      vmstat: Record<string, number>;
      tlb: unknown;
      virtualTimeNs: unknown;
    };
    expect(json).toMatchObject({
      scenario: 'rfc-lock-order',
      variant: 'rfc-2022',
      status: 'deadlock',
      strategy: 'replay',
      replay: found.replay,
    });
    expect(json.steps).toBeGreaterThan(0);
    expect(json.finding.kind).toBe('deadlock');
    expect(json.finding.deadlock.cycle).toHaveLength(2);
    expect(json.finding.report).toContain('wait-for cycle of 2 task(s)');
    expect(json.schedule).toHaveLength(json.steps);
    expect(json.schedule[0]).toMatchObject({ step: 1 });
    expect(Object.keys(json.vmstat).length).toBeGreaterThan(0);
    expect(json.tlb).toEqual({
      ipis: expect.any(Number),
      flushes: expect.any(Number),
      shootdowns: expect.any(Number),
    });
    expect(typeof json.virtualTimeNs).toBe('number');
  });
});

describe('replay of a scenario file', () => {
  const write = (dir: string, data: unknown, spacing?: number) => {
    const file = join(dir, 'rfc file.json');
    writeFileSync(file, JSON.stringify(data, null, spacing));
    return file;
  };
  const rfcFile = { scenario: 'rfc-lock-order', config: { variant: 'rfc-2022' } };

  test('explore prints a replay command with --scenario FILE; replay needs the file and says when it changed', () => {
    const file = write(tempDir(), rfcFile);
    const args = ['explore', file, ...RFC_DEADLOCK.slice(4)];
    const found = mmsim(args);
    expect(found.code).toBe(EXIT_FINDING);
    const { line, result: again } = pasted(found.stdout);
    expect(line).toContain(` --scenario '${file}'`);
    expect(again.code).toBe(EXIT_FINDING);
    expect(again.stderr).toBe('');
    expect(findingText(again.stdout)).toBe(findingText(found.stdout));

    const token = shellWords(line)[2]!;
    const bare = mmsim(['replay', token]);
    expect(bare.code).toBe(EXIT_USAGE);
    expect(bare.stderr).toBe(
      'mmsim: the token was recorded on the scenario file of scenario rfc-lock-order; give the file with --scenario FILE\n',
    );
    // The same settings written differently: another hash, the same run.
    write(join(file, '..'), rfcFile, 2);
    const changed = mmsim(['replay', token, '--scenario', file]);
    expect(changed.stderr).toMatch(
      /^mmsim: note: .*rfc file\.json differs from what the token was recorded on \(sha256 [0-9a-f]{64}, now sha256 [0-9a-f]{64}\); the replay may diverge\n$/,
    );
    expect(changed.code).toBe(EXIT_FINDING);
  });

  test('the replay line of `run` on a file names the file, and replays from it', () => {
    const file = write(tempDir(), { scenario: 'rfc-lock-order', config: { variant: 'v6.3' } });
    const first = mmsim(['run', file]);
    expect(first.code).toBe(EXIT_OK);
    const { line, result: again } = pasted(first.stdout);
    expect(line).toMatch(/ --scenario '.*rfc file\.json'$/);
    expect(summary(again.stdout)).toBe(summary(first.stdout));
    const bare = mmsim(['replay', shellWords(line)[2]!]);
    expect(bare.code).toBe(EXIT_USAGE);
    expect(bare.stderr).toMatch(/give the file with --scenario FILE/);
  });

  test('a token of scenario A given --scenario B is refused (exit 2), not run as B', () => {
    const dir = tempDir();
    const loop = join(dir, 'loop.json');
    writeFileSync(loop, JSON.stringify({ scenario: 'loop-bh-deadlock' }));
    const run = JSON.parse(mmsim(['run', 'rfc-lock-order', '--json']).stdout) as { replay: string };
    const explored = JSON.parse(mmsim([...RFC_DEADLOCK, '--json']).stdout) as { replay: string };
    for (const token of [run.replay, explored.replay]) {
      for (const other of ['loop-bh-deadlock', loop]) {
        const r = mmsim(['replay', token, '--scenario', other]);
        expect(r.code).toBe(EXIT_USAGE);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(
          /^mmsim: the token was made by scenario rfc-lock-order, not loop-bh-deadlock \(.*\); give the scenario the token names\n$/,
        );
      }
    }
  });
});

describe('long tokens and token files', () => {
  test('a long token is not printed whole to a terminal; the printed command runs as pasted', () => {
    const first = mmsim(['run', 'pmbench-migrate', '--variant', 'v6.2'], { isTTY: true });
    expect(first.code).toBe(EXIT_OK);
    for (const l of first.stdout.split('\n')) expect(l.length).toBeLessThan(500);
    const { line, result: again } = pasted(first.stdout, true);
    expect(line).toMatch(/^mmsim replay --token-file \S+mmsim-replay-[0-9a-f]{16}\.token$/);
    expect(again.code).toBe(EXIT_OK);
    expect(summary(again.stdout)).toBe(summary(first.stdout));
    // Off a terminal (a pipe, a script) the token is printed whole.
    const piped = mmsim(['run', 'pmbench-migrate', '--variant', 'v6.2']);
    expect(/^replay: mmsim replay (\S+)$/m.exec(piped.stdout)![1]!.length).toBeGreaterThan(10_000);
  });

  test('--token-file writes the token there; replay --token-file reads it', () => {
    const file = join(tempDir(), 'token');
    const found = mmsim([...RFC_DEADLOCK, '--token-file', file]);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^mmsim1\./);
    const { line, result: again } = pasted(found.stdout);
    expect(line).toBe(`mmsim replay --token-file ${file}`);
    expect(findingText(again.stdout)).toBe(findingText(found.stdout));
    expect(mmsim(['replay', token, '--token-file', file]).stderr).toBe(
      'mmsim: give the token or --token-file, not both\n',
    );
    const missing = mmsim(['replay', '--token-file', join(file, '..', 'nope')]);
    expect(missing.code).toBe(EXIT_USAGE);
    expect(missing.stderr).toMatch(/^mmsim: --token-file .*nope: ENOENT/);
    expect(mmsim(['replay']).stderr).toBe('mmsim: give a replay token, or --token-file FILE\n');
  });
});

describe('old tokens', () => {
  test('an explore token of format 1 is refused with a clear message (exit 2)', () => {
    const meta = { 'mmsim-explore': 1, target: 'rfc-lock-order@rfc-2022', maxSteps: 100_000 };
    const old = encodeReplayToken({ seed: 1, meta: JSON.stringify(meta), pairs: [0, 1] });
    const r = mmsim(['replay', old]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(
      /^mmsim: the token was made by an older mmsim \(explore token format 1\).*explore again to get a token of format 2\n$/,
    );
  });

  test('a run token of format 1 (scenario@variant) still replays: a run has no checks to record', () => {
    const now = mmsim(['run', 'rfc-lock-order', '--variant', 'v6.3', '--json']);
    const token = (JSON.parse(now.stdout) as { replay: string }).replay;
    const [, seed, , body] = token.split('.');
    const old = `mmsim1.${seed}.${Buffer.from('mmsim-run:rfc-lock-order@v6.3').toString('base64url')}.${body}`;
    const again = mmsim(['replay', old, '--json']);
    expect(again.code).toBe(EXIT_OK);
    const a = JSON.parse(again.stdout) as Record<string, unknown>;
    const b = JSON.parse(now.stdout) as Record<string, unknown>;
    const ignored = { replay: null, replayCommand: null, strategy: null };
    expect({ ...a, ...ignored }).toEqual({ ...b, ...ignored });
  });
});
