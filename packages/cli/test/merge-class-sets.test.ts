import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeClassSet, encodeClassSet } from '../src/commands/merge-classes.js';
import { EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { UsageError } from '../src/usage-error.js';
import { runBuilt as run, timeless } from './support/built-mmsim.js';
import { mmsim } from './support/mmsim.js';

const MAX = 2 ** 53 - 1;

describe('the classSet encoding (merge-classes.ts)', () => {
  test('round trip: ascending, duplicates once, 0 and 2^53 - 1 kept exactly', () => {
    const hashes = [MAX, 5, 0, 2 ** 40 + 1, 5, 127, 128, 2 ** 32];
    expect(decodeClassSet(encodeClassSet(hashes), 'x.json')).toEqual([
      0,
      5,
      127,
      128,
      2 ** 32,
      2 ** 40 + 1,
      MAX,
    ]);
    expect(decodeClassSet(encodeClassSet([]), 'x.json')).toEqual([]);
  });

  test('about 6 bytes (8 base64 characters) a class for a search of 61,658 classes', () => {
    // Random 53-bit hashes, as runClassHash gives (a fixed generator: the same every run).
    let x = 0x9e3779b9;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    const hashes = Array.from({ length: 61_658 }, () => next() * 0x200000 + (next() & 0x1fffff));
    const text = encodeClassSet(hashes);
    const expected = [...new Set(hashes)].sort((a, b) => a - b);
    const decoded = decodeClassSet(text, 'x.json');
    expect(decoded).toHaveLength(expected.length);
    expect(decoded.every((h, i) => h === expected[i])).toBe(true);
    // 7 bytes a class fixed would be 9.33 characters; the differences need 6 bytes.
    expect(text.length).toBeLessThanOrEqual(8 * hashes.length);
  });

  test.each([
    ['not a string', 42, /a number/],
    ['null', null, /a null/],
    ['not base64', 'ab$d', /not base64/],
    ['base64 without its padding', 'gA', /not base64/],
    ['a number cut short', Buffer.from([5, 0x80]).toString('base64'), /cut short/],
    ['a hash twice', Buffer.from([5, 0]).toString('base64'), /a hash twice/],
    [
      'a hash beyond 53 bits',
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10]).toString('base64'),
      /beyond 53 bits/,
    ],
    [
      'hashes adding up beyond 53 bits',
      Buffer.from([
        ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
      ]).toString('base64'),
      /beyond 53 bits/,
    ],
    [
      'a number of zero continuation bytes',
      Buffer.from(Array.from({ length: 12 }, () => 0x80)).toString('base64'),
      /beyond 53 bits/,
    ],
  ])('%s is a UsageError naming the file', (_, value, why) => {
    expect(() => decodeClassSet(value, 'bad.json')).toThrow(UsageError);
    expect(() => decodeClassSet(value, 'bad.json')).toThrow(why);
    expect(() => decodeClassSet(value, 'bad.json')).toThrow(/^bad\.json: classSet /);
  });
});

type Json = Record<string, unknown>;

describe('explore --strategy dpor --shard K/N and mmsim merge: the exact class count', () => {
  const args = ['explore', 'rfc-lock-order', '--variant', 'v6.3', '--strategy', 'dpor:1'];
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-class-sets-'));
  const write = (name: string, value: Json) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(value));
    return path;
  };
  const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Json;

  // The unsharded search and shards 1/3 … 3/3, each its own process.
  const searches = (async () => {
    const runs = await Promise.all([
      run([...args, '--json', '--workers', '1']),
      ...[1, 2, 3].map((k) => run([...args, '--json', '--workers', '1', '--shard', `${k}/3`])),
    ]);
    for (const r of runs) {
      expect(r.stderr).not.toMatch(/mmsim:|Error/);
      expect(r.code).toBe(EXIT_OK);
    }
    const [whole, ...shards] = runs;
    return {
      whole: timeless((whole as (typeof runs)[number]).stdout),
      files: shards.map((s, i) => {
        const path = join(dir, `shard-${i + 1}.json`);
        writeFileSync(path, s.stdout);
        return path;
      }),
    };
  })();

  test('shards as separate processes, merged: the unsharded result, classes and message included', async () => {
    const { whole, files } = await searches;
    expect(whole).not.toHaveProperty('classSet'); // an unsharded run has its exact count
    for (const f of files) expect(typeof read(f).classSet).toBe('string');
    const merged = mmsim(['merge', '--json', ...[...files].reverse()]);
    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(EXIT_OK);
    const { shards, ...result } = timeless(merged.stdout);
    expect(shards).toBe(3);
    expect(result).toEqual(whole);
    expect(result.message).toBe(
      `exhausted: every schedule up to preemption bound 1 explored — ${whole.executions} executions covering ${whole.classes} interleaving classes`,
    );
    const text = mmsim(['merge', ...files]);
    expect(text.stdout).toContain(`covering ${whole.classes} interleaving classes`);
    expect(text.stdout).not.toContain('at most');
  }, 300_000);

  test('two shards that met one class: the union, less than the sum of their counts', async () => {
    const { files } = await searches;
    const [a, b, c] = files.map(read) as [Json, Json, Json];
    const setA = decodeClassSet(a.classSet, 'a');
    const setB = decodeClassSet(b.classSet, 'b');
    expect(setA.length).toBeGreaterThan(2);
    // Shard 2 as if it had also met two of shard 1's classes.
    const shared = [...setB, setA[0] as number, setA[1] as number];
    const b2 = write('shared-2.json', {
      ...b,
      classes: shared.length,
      classSet: encodeClassSet(shared),
    });
    const paths = [files[0] as string, b2, files[2] as string];
    const m = JSON.parse(mmsim(['merge', '--json', ...paths]).stdout) as Json;
    const sum = (a.classes as number) + shared.length + (c.classes as number);
    expect(m.classes).toBe(sum - 2);
    expect(m.message).toContain(`covering ${sum - 2} interleaving classes`);
  }, 300_000);

  test('a shard of an older version (no classSet): the bound, "at most", as before', async () => {
    const { whole, files } = await searches;
    const { classSet: _, ...old } = read(files[1] as string);
    const oldFile = write('old-2.json', old);
    const paths = [files[0] as string, oldFile, files[2] as string];
    const m = JSON.parse(mmsim(['merge', '--json', ...paths]).stdout) as Json;
    expect(m.classes).toBe(whole.classes); // these shards meet no class twice
    expect(m.message).toBe(
      `exhausted: every schedule up to preemption bound 1 explored — ${whole.executions} executions in 3 shards covering at most ${whole.classes} interleaving classes`,
    );
  }, 300_000);

  test('a bad classSet, or one that disagrees with classes, exits 2 with one line', async () => {
    const { files } = await searches;
    const b = read(files[1] as string);
    for (const [name, value] of [
      ['not-base64.json', { ...b, classSet: 'not base64!' }],
      ['number.json', { ...b, classSet: 12 }],
      ['miscounted.json', { ...b, classes: (b.classes as number) + 1 }],
    ] as const) {
      const r = mmsim(['merge', files[0] as string, write(name, value), files[2] as string]);
      expect(r.code).toBe(EXIT_USAGE);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(name);
    }
  }, 300_000);
});
