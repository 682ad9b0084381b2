import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { variantContentHash } from '@mmsim/migrate';
import { beforeAll, describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import {
  loadVariantFile,
  preloadVariantModules,
  variantFileSchemaJson,
} from '../src/variant-file.js';
import { mmsim as runMmsim } from './support/mmsim.js';

/** Runs the command with captured output, variant modules loaded first as bin.ts does. */
async function mmsim(args: string[]) {
  await preloadVariantModules(args);
  return runMmsim(args);
}

const dir = mkdtempSync(join(tmpdir(), 'mmsim-variant-'));
const JSON_FILE = join(dir, 'rfc-on-v6.3.json');
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const SEARCH = [
  '--strategy',
  'pct',
  '--schedules',
  '1000',
  '--seed',
  '1',
  '--disable',
  'page-lock-inversion',
  '--json',
];

beforeAll(() => {
  writeFileSync(
    JSON_FILE,
    JSON.stringify({
      extends: 'v6.3',
      syncBatching: 'batch-all-modes',
      forceFromPass3: true,
      batchFlush: 'always',
    }),
  );
});

describe('--variant FILE: a custom variant finds the RFC deadlock on v6.3 and replays', () => {
  for (const [kind, file] of [
    ['a JSON file', () => JSON_FILE],
    ['a YAML file', () => join(FIXTURES, 'rfc-on-v63.yaml')],
    ['an .mjs module', () => join(FIXTURES, 'rfc-on-v63.mjs')],
    ['a .ts module', () => join(FIXTURES, 'rfc-on-v63-module.ts')],
  ] as const) {
    test(`from ${kind}`, async () => {
      const found = await mmsim(['explore', 'rfc-lock-order', '--variant', file(), ...SEARCH]);
      expect(found.code).toBe(EXIT_FINDING);
      const summary = JSON.parse(found.stdout);
      expect(summary).toMatchObject({ variant: 'rfc-on-v6.3', kind: 'deadlock' });
      expect(summary.replayCommand).toContain(`--variant ${file()}`);
      const again = await mmsim(['replay', summary.replay, '--variant', file(), '--json']);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(EXIT_FINDING);
      expect(JSON.parse(again.stdout).finding).toMatchObject({ kind: 'deadlock' });
      // A run token of the custom variant replays too.
      const run = await mmsim(['run', 'rfc-lock-order', '--variant', file(), '--json']);
      expect(JSON.parse(run.stdout).variant).toBe('rfc-on-v6.3');
      const token = JSON.parse(run.stdout).replay;
      expect((await mmsim(['replay', token, '--variant', file(), '--json'])).code).toBe(run.code);
    });
  }

  test('plain v6.3 finds nothing in the same search', async () => {
    const r = await mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      ...SEARCH.map((a) => (a === '1000' ? '300' : a)),
    ]);
    expect(r.code).toBe(EXIT_OK);
  });

  test('the findings are printed with the custom name', async () => {
    const r = await mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      JSON_FILE,
      '--schedules',
      '50',
    ]);
    expect(r.stdout).toContain('(variant rfc-on-v6.3,');
    expect(r.stdout).toContain('target "rfc-lock-order@rfc-on-v6.3"');
  });
});

describe('replaying against another variant is refused, exit 2', () => {
  test('without the file, with a changed file, with a built-in variant', async () => {
    const found = await mmsim(['explore', 'rfc-lock-order', '--variant', JSON_FILE, ...SEARCH]);
    const token = JSON.parse(found.stdout).replay as string;
    const none = await mmsim(['replay', token]);
    expect(none.code).toBe(EXIT_USAGE);
    expect(none.stderr).toMatch(
      /^mmsim: the token was recorded on the custom variant rfc-on-v6\.3; give its file with --variant FILE\n$/,
    );
    const changed = join(dir, 'changed', 'rfc-on-v6.3.json');
    mkdirSync(join(dir, 'changed'), { recursive: true });
    writeFileSync(
      changed,
      JSON.stringify({ extends: 'v6.3', syncBatching: 'batch-all-modes', forceFromPass3: true }),
    );
    const other = await mmsim(['replay', token, '--variant', changed]);
    expect(other.code).toBe(EXIT_USAGE);
    expect(other.stderr).toMatch(
      /^mmsim: the token was recorded on variant rfc-on-v6\.3 with content hash [0-9a-f]{12}…, but this variant rfc-on-v6\.3 has [0-9a-f]{12}…: its settings differ/,
    );
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    const builtIn = await mmsim(['replay', token, '--variant', 'v6.3']);
    expect(builtIn.code).toBe(EXIT_USAGE);
    expect(builtIn.stderr).toMatch(/recorded on variant rfc-on-v6\.3, not v6\.3/);
  });
});

describe('a hand-edited variant file with a typo: a field-named error, exit 2, one line', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'an unknown key',
      { extends: 'v6.3', syncBatchng: 'async-first' },
      /: syncBatchng is not a known setting/,
    ],
    [
      'a wrong value',
      { extends: 'v6.3', batchFlush: 'sometimes' },
      /: batchFlush must be one of 'never', 'always', 'async-only'/,
    ],
    [
      'a wrong type',
      { extends: 'v6.3', forceFromPass3: 'yes' },
      /: forceFromPass3 must be a boolean/,
    ],
    ['no extends', { batchFlush: 'always' }, /: extends is missing/],
    ['an unknown base', { extends: 'v5.15' }, /: extends must be one of 'v6\.2'/],
    [
      'a built-in name with other settings',
      { name: 'v6.3', extends: 'v6.3', forceFromPass3: true },
      /"v6\.3" is a built-in variant's name, but the settings differ/,
    ],
  ];
  for (const [what, data, message] of cases) {
    test(what, async () => {
      const file = join(dir, `typo-${what.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, JSON.stringify(data));
      const r = await mmsim(['run', 'rfc-lock-order', '--variant', file]);
      expect(r.code).toBe(EXIT_USAGE);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.startsWith(`mmsim: ${file}: `)).toBe(true);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }

  test('a module that exports no variant, and a missing module', async () => {
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const nothing = 1;\n');
    const r = await mmsim(['run', 'rfc-lock-order', '--variant', empty]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(/exports no variant \(export it as default or as variant\)\n$/);
    const missing = await mmsim(['run', 'rfc-lock-order', '--variant', join(dir, 'nope.mjs')]);
    expect(missing.code).toBe(EXIT_USAGE);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('an unknown built-in name still lists the choices', async () => {
    const r = await mmsim(['run', 'rfc-lock-order', '--variant', 'v5.15']);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(/--variant must be one of v6\.2, .* or a variant file/);
  });
});

describe('variant files', () => {
  test('the name defaults to the file name, and the hash ignores it', () => {
    const v = loadVariantFile(JSON_FILE);
    expect(v.name).toBe('rfc-on-v6.3');
    const yaml = loadVariantFile(join(FIXTURES, 'rfc-on-v63.yaml'));
    expect(variantContentHash(yaml)).toBe(variantContentHash(v));
  });

  test('the published JSON Schema is the one the code generates', async () => {
    const published = JSON.parse(
      readFileSync(new URL('../schema/variant-file.schema.json', import.meta.url), 'utf8'),
    );
    expect(published).toEqual(variantFileSchemaJson());
    expect(JSON.parse((await mmsim(['schema', '--variant'])).stdout)).toEqual(published);
  });
});
