import { replay } from '@mmsim/explore';
import { decodeRunMeta } from '@mmsim/explore/internal';
import { defineVariant, VARIANTS, variantContentHash } from '@mmsim/migrate';
import { decodeReplayToken, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { exploreScenario, rfcLockOrder, runScenario, scenarioTarget } from '../src/index.js';

/** The RFC's batching on top of v6.3: batches in every mode, force from pass 3, batch flush. */
const rfcOnV63 = defineVariant({
  name: 'rfc-on-v6.3',
  extends: 'v6.3',
  syncBatching: 'batch-all-modes',
  forceFromPass3: true,
  batchFlush: 'always',
});

const search = {
  strategy: 'pct',
  schedules: 1000,
  seed: 1,
  disable: ['page-lock-inversion'],
} as const;

describe('a custom variant value through the scenarios API', () => {
  const found = exploreScenario(rfcLockOrder(), { ...search, variant: rfcOnV63 });

  it('finds the RFC deadlock, named after the custom variant', () => {
    expect(found.kind).toBe('deadlock');
    expect(found.finding?.target).toBe('rfc-lock-order@rfc-on-v6.3');
  });

  it('plain v6.3 does not deadlock in the same search', () => {
    expect(
      exploreScenario(rfcLockOrder(), { ...search, schedules: 300, variant: 'v6.3' }).found,
    ).toBe(false);
  });

  it("records the variant's name and content hash in the token", () => {
    const meta = decodeRunMeta(decodeReplayToken(found.replay!).meta)!;
    expect(meta.identity).toEqual({
      variant: { name: 'rfc-on-v6.3', contentHash: variantContentHash(rfcOnV63) },
      file: null,
    });
  });

  it('replays exactly on the same variant value', () => {
    const again = replay(scenarioTarget(rfcLockOrder(), { variant: rfcOnV63 }), found.replay!);
    expect(again.finding).toEqual(found.finding);
    expect(again.differences).toEqual([]);
  });

  it('refuses a replay on a variant of the same name with other settings', () => {
    const other = defineVariant({
      name: 'rfc-on-v6.3',
      extends: rfcOnV63,
      batchFlush: 'async-only',
    });
    let error: unknown;
    try {
      replay(scenarioTarget(rfcLockOrder(), { variant: other }), found.replay!);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MmsimError);
    expect((error as MmsimError).code).toBe('INVALID_REPLAY_TOKEN');
    expect((error as MmsimError).message).toMatch(/content hash .* its settings differ/);
  });

  it('refuses a replay on another variant by name', () => {
    expect(() =>
      replay(scenarioTarget(rfcLockOrder(), { variant: 'v6.3' }), found.replay!),
    ).toThrow(/recorded on target "rfc-lock-order@rfc-on-v6.3"/);
  });

  it('fills the content hash of built-in variants too', () => {
    const t = scenarioTarget(rfcLockOrder(), { variant: 'v6.11' });
    expect(t.identity.variant).toEqual({
      name: 'v6.11',
      contentHash: variantContentHash(VARIANTS['v6.11']),
    });
  });

  it('runScenario and scenarioTarget accept the value, and refuse a bad one naming the field', () => {
    const run = runScenario(rfcLockOrder(), { variant: rfcOnV63 });
    expect(run.kernel.variant.name).toBe('rfc-on-v6.3');
    const bad = { ...rfcOnV63, batchFlush: 'sometimes' } as never;
    expect(() => scenarioTarget(rfcLockOrder(), { variant: bad })).toThrow(
      /variant\.batchFlush must be/,
    );
    expect(() => runScenario(rfcLockOrder(), { variant: bad })).toThrow(
      /variant\.batchFlush must be/,
    );
  });
});
