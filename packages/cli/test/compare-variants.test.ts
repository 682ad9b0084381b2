import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VARIANTS, variantContentHash } from '@mmsim/migrate';
import { describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { preloadVariantModules } from '../src/variant-file.js';
import sleepyBatch from './fixtures/sleepy-batch.js';
import { mmsim as runMmsim } from './support/mmsim.js';

/** Runs the command with captured output, variant modules loaded first as bin.ts does. */
async function mmsim(args: string[]) {
  await preloadVariantModules(args);
  return runMmsim(args);
}

const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const SKIP_COPY = join(FIXTURES, 'skip-copy.ts');
const SLEEPY = join(FIXTURES, 'sleepy-batch.ts');
const dir = mkdtempSync(join(tmpdir(), 'mmsim-compare-'));
const KNOBS = join(dir, 'batch4.yaml');
writeFileSync(KNOBS, 'extends: v6.3\nbatchSize: 4\n');
const TYPO = join(dir, 'typo.json');
writeFileSync(TYPO, JSON.stringify({ extends: 'v6.3', batchSize: 'four' }));

describe('mmsim compare with variant files and modules', () => {
  test('--variants mixes a built-in name, a module and a YAML file; rows carry names and hashes', async () => {
    const r = await mmsim([
      'compare',
      'pmbench-migrate',
      '--variants',
      `v6.3,${SLEEPY},${KNOBS}`,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT_OK);
    const out = JSON.parse(r.stdout);
    expect(
      out.variants.map((v: { variant: string; contentHash: string; file: string | null }) => [
        v.variant,
        v.contentHash,
        v.file,
      ]),
    ).toEqual([
      ['v6.3', variantContentHash(VARIANTS['v6.3']), null],
      ['sleepy-batch', variantContentHash(sleepyBatch), SLEEPY],
      ['batch4', expect.stringMatching(/^[0-9a-f]{64}$/), KNOBS],
    ]);
    // batchSize 4 really ran: more batches, so more flushes than v6.3.
    expect(out.variants[2].flushes).toBeGreaterThan(out.variants[0].flushes);
  });

  test('--variant twice, a module on one side: the table names it and prints its hash; a finding exits 1', async () => {
    const r = await mmsim([
      'compare',
      'migrate-under-writes',
      '--variant',
      'v6.3',
      '--variant',
      SKIP_COPY,
    ]);
    expect(r.code).toBe(EXIT_FINDING);
    expect(r.stdout).toMatch(/^v6\.3\s+completed\s+\d+/m);
    expect(r.stdout).toMatch(/^skip-copy\s+completed \(invariant\)/m);
    expect(r.stdout).toMatch(
      new RegExp(`^variant skip-copy: from ${SKIP_COPY}, content hash [0-9a-f]{12}…$`, 'm'),
    );
    expect(r.stdout).toMatch(/^finding: skip-copy: invariant: no-lost-write: /m);
  });

  test.each([
    [['--variant', 'v6.3'], /compare needs two or more variants/],
    [['--variants', `${TYPO},v6.3`], /typo\.json: batchSize must be an integer from 1 to 1048576/],
    [['--variants', `${KNOBS},${KNOBS}`], /--variants names batch4 twice/],
    [['--variants', 'v6.3', '--variant', 'v6.3'], /--variants names v6\.3 twice/],
  ])('bad input %j exits 2 with one line', async (args, message) => {
    const r = await mmsim(['compare', 'pmbench-migrate', ...args]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
