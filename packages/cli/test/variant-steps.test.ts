import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { variantContentHash } from '@mmsim/migrate';
import { exploreScenario, rfcLockOrder } from '@mmsim/scenarios';
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
const SLEEPY = join(FIXTURES, 'sleepy-batch.ts');
const SKIP_COPY = join(FIXTURES, 'skip-copy.ts');
const dir = mkdtempSync(join(tmpdir(), 'mmsim-steps-'));
/** sleepy-batch's settings without its replaced batch loop, under the same name. */
const SAME_SETTINGS = join(dir, 'sleepy-batch.json');
writeFileSync(
  SAME_SETTINGS,
  JSON.stringify({
    extends: 'v6.3',
    syncBatching: 'batch-all-modes',
    batchLockStrategy: 'trylock',
  }),
);
const SEARCH = ['--strategy', 'pct', '--seed', '1', '--disable', 'page-lock-inversion', '--json'];

describe('a module variant with a replaced batch loop', () => {
  // The sleepy loop's exploration, run once for the tests that read its finding.
  let sleepy: Awaited<ReturnType<typeof mmsim>> | undefined;
  const exploreSleepy = async (): Promise<Awaited<ReturnType<typeof mmsim>>> => {
    sleepy ??= await mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      SLEEPY,
      '--schedules',
      '1000',
      ...SEARCH,
    ]);
    return sleepy;
  };

  test('a loop that sleeps on every folio lock in sync mode finds the RFC deadlock and replays', async () => {
    const found = await exploreSleepy();
    expect(found.code).toBe(EXIT_FINDING);
    const summary = JSON.parse(found.stdout);
    expect(summary).toMatchObject({ variant: 'sleepy-batch', kind: 'deadlock' });
    expect(summary.message).toMatch(/waits in migrate_folio_unmap/);
    const again = await mmsim(['replay', summary.replay, '--variant', SLEEPY, '--json']);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(EXIT_FINDING);
    expect(JSON.parse(again.stdout).finding).toMatchObject({ kind: 'deadlock' });
  });

  test('the same settings with the built-in loop (trylock inside a batch) find nothing', async () => {
    const r = await mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      SAME_SETTINGS,
      '--schedules',
      '300',
      ...SEARCH,
    ]);
    expect(r.code).toBe(EXIT_OK);
  });

  test('replay refuses the token on the variant without the replaced step (another hash)', async () => {
    const found = await exploreSleepy();
    const token = JSON.parse(found.stdout).replay as string;
    const other = await mmsim(['replay', token, '--variant', SAME_SETTINGS]);
    expect(other.code).toBe(EXIT_USAGE);
    expect(other.stderr).toMatch(
      /^mmsim: the token was recorded on variant sleepy-batch with content hash [0-9a-f]{12}…, but this variant sleepy-batch has [0-9a-f]{12}…: its settings differ \(or its replaced steps do\)/,
    );
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('through the API: the token carries the hash of the settings and the step', () => {
    const r = exploreScenario(rfcLockOrder(), {
      variant: sleepyBatch,
      strategy: 'pct',
      schedules: 1000,
      seed: 1,
      disable: ['page-lock-inversion'],
    });
    expect(r.kind).toBe('deadlock');
    expect(r.finding?.target).toBe('rfc-lock-order@sleepy-batch');
    const { steps: _s, ...withoutSteps } = sleepyBatch;
    expect(variantContentHash(sleepyBatch)).not.toBe(variantContentHash(withoutSteps));
  });
});

describe('a module variant with a replaced copy step', () => {
  test('a copy that copies nothing is caught by the no-lost-write invariant of migrate-under-writes', async () => {
    const r = await mmsim(['run', 'migrate-under-writes', '--variant', SKIP_COPY, '--json']);
    expect(r.code).toBe(EXIT_FINDING);
    const run = JSON.parse(r.stdout);
    expect(run.variant).toBe('skip-copy');
    expect(run.finding).toMatchObject({ kind: 'invariant' });
    expect(run.finding.message).toMatch(/^no-lost-write: .* a write was lost/);
    const plain = await mmsim(['run', 'migrate-under-writes', '--variant', 'v6.3', '--json']);
    expect(plain.code).toBe(EXIT_OK);
  });
});
