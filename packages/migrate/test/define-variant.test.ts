import { createHash } from 'node:crypto';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_STEPS,
  defineVariant,
  resolveVariant,
  sha256Hex,
  VARIANTS,
  variantContentHash,
  variantSettingsJson,
} from '../src/index.js';

/** The settings the content hash listed before the prototype knobs, in order. */
const SETTINGS_BEFORE_KNOBS = [
  'engine',
  'syncBatching',
  'batchLimit',
  'forceFromPass3',
  'avoidForceLock',
  'syncLightNeedsUptodate',
  'batchFlush',
  'splitRetry',
  'allMigratedReturnsZero',
  'splitTrylockInAsync',
  'longtermPinRetryUncounts',
  'hasSyncNoCopy',
  'hugetlbFallbackByReason',
  'countsNrSplit',
  'drainOnlyMlocked',
  'dstStateInPrivate',
  'compactionIsolatesLarge',
  'splitsDeferredFirst',
  'deferredSplitCountsThpFailed',
];

const rfcOnV63 = () =>
  defineVariant({
    name: 'rfc-on-6.3',
    extends: 'v6.3',
    syncBatching: 'batch-all-modes',
    forceFromPass3: true,
    batchFlush: 'always',
  });

function errorOf(fn: () => unknown): MmsimError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MmsimError);
    return error as MmsimError;
  }
  throw new Error('expected a throw');
}

describe('defineVariant', () => {
  it('builds a frozen variant with a free-form name on top of the base settings', () => {
    const v = rfcOnV63();
    expect(v.name).toBe('rfc-on-6.3');
    expect(Object.isFrozen(v)).toBe(true);
    expect(v.syncBatching).toBe('batch-all-modes');
    expect(v.forceFromPass3).toBe(true);
    expect(v.batchFlush).toBe('always');
    // Everything else comes from v6.3.
    expect(v.batchLimit).toBe(VARIANTS['v6.3'].batchLimit);
    expect(v.splitRetry).toBe(VARIANTS['v6.3'].splitRetry);
    expect(v.engine).toBe('batch');
  });

  it('extends another variant value', () => {
    const a = rfcOnV63();
    const b = defineVariant({ name: 'b', extends: a, splitTrylockInAsync: true });
    expect(b.batchFlush).toBe('always');
    expect(b.splitTrylockInAsync).toBe(true);
  });

  it('is accepted by resolveVariant under its own name', () => {
    const v = rfcOnV63();
    expect(resolveVariant(v)).toBe(v);
  });

  it('names the field of an unknown setting', () => {
    const e = errorOf(() =>
      defineVariant({ name: 'x', extends: 'v6.3', syncBatchng: 'async-first' } as never),
    );
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/variant x\.syncBatchng is not a known setting/);
  });

  it('names the field of a wrong value and lists the allowed ones', () => {
    const e = errorOf(() =>
      defineVariant({ name: 'x', extends: 'v6.3', batchFlush: 'sometimes' } as never),
    );
    expect(e.message).toMatch(
      /variant x\.batchFlush must be 'never', 'always' or 'async-only', got "sometimes"/,
    );
    const f = errorOf(() =>
      defineVariant({ name: 'x', extends: 'v6.3', forceFromPass3: 'yes' } as never),
    );
    expect(f.message).toMatch(/variant x\.forceFromPass3 must be a boolean/);
  });

  it('refuses an unknown base and a missing extends', () => {
    expect(errorOf(() => defineVariant({ name: 'x', extends: 'v5.15' } as never)).message).toMatch(
      /variant x\.extends must be one of/,
    );
    expect(errorOf(() => defineVariant({ name: 'x' } as never)).message).toMatch(
      /variant x\.extends is missing/,
    );
  });

  it('refuses a built-in name with other settings, accepts it with the same settings', () => {
    expect(
      errorOf(() => defineVariant({ name: 'v6.3', extends: 'v6.3', forceFromPass3: true })).message,
    ).toMatch(
      /"v6\.3" is a built-in variant's name, but the settings differ from it \(forceFromPass3\)/,
    );
    expect(
      errorOf(() => resolveVariant({ ...VARIANTS['v6.3'], forceFromPass3: true })).message,
    ).toMatch(/built-in variant's name/);
    const same = defineVariant({
      name: 'v6.11',
      extends: 'v6.10',
      splitTrylockInAsync: true,
      deferredSplitCountsThpFailed: true,
      numaHintPutsBackList: true,
    });
    expect(variantContentHash(same)).toBe(variantContentHash(VARIANTS['v6.11']));
  });

  it('refuses a name with spaces or @ (it goes into scenario@variant)', () => {
    expect(errorOf(() => defineVariant({ name: 'a@b', extends: 'v6.3' })).message).toMatch(
      /variant a@b\.name must be a non-empty name/,
    );
    expect(errorOf(() => defineVariant({ name: '', extends: 'v6.3' })).message).toMatch(/name/);
  });
});

describe('variantContentHash', () => {
  it('is the SHA-256 of the canonical JSON of the policy settings', () => {
    const v = VARIANTS['v6.3'];
    const json = variantSettingsJson(v);
    // The prototype knobs at their defaults are left out and batchLockStrategy is written
    // as the avoidForceLock it replaced, so the keys are those of the table before them.
    expect(Object.keys(JSON.parse(json))).toEqual(SETTINGS_BEFORE_KNOBS);
    expect(variantContentHash(v)).toBe(createHash('sha256').update(json).digest('hex'));
  });

  it('keeps the hash every built-in variant up to v6.3 had before the prototype knobs', () => {
    // v6.10 and v6.11 changed with the regression pack (deferredSplitCountsFailed,
    // numaHintPutsBackList); v6.4, v6.12 and batch-copy came later.
    for (const v of (['v6.2', 'rfc-2022', 'v6.3-rc1', 'v6.3'] as const).map((n) => VARIANTS[n])) {
      const before: Record<string, unknown> = {};
      for (const key of SETTINGS_BEFORE_KNOBS) {
        before[key] =
          key === 'avoidForceLock'
            ? v.batchLockStrategy === 'deadlock-avoid'
            : v[key as keyof typeof v];
      }
      expect(variantContentHash(v), v.name).toBe(
        createHash('sha256').update(JSON.stringify(before)).digest('hex'),
      );
    }
  });

  it('changes when a prototype knob or a later switch leaves its hash-neutral value, and with the lock strategy trylock', () => {
    const base = variantContentHash(VARIANTS['v6.3']);
    for (const change of [
      { batchSize: 4 },
      { passesSync: 5 },
      { asyncFirstPasses: 2 },
      { splitPolicy: 'never' as const },
      { batchLockStrategy: 'trylock' as const },
      { syncBatching: 'batch-sync-light' as const },
      { restoreWrprotectsReadEntry: false },
      { movableProtocol: 'page-type-2025' as const },
    ]) {
      const v = defineVariant({ name: 'knob', extends: 'v6.3', ...change });
      expect(variantContentHash(v), JSON.stringify(change)).not.toBe(base);
    }
    const same = defineVariant({ name: 'knob', extends: 'v6.3', batchSize: 512, passesSync: 10 });
    expect(variantContentHash(same)).toBe(base);
  });

  it("hashes a replaced step's name and source text, and refuses a built-in name with steps", () => {
    function* batchA(...args: Parameters<typeof BUILTIN_STEPS.migratePagesBatch>) {
      return yield* BUILTIN_STEPS.migratePagesBatch(...args);
    }
    function* batchB(...args: Parameters<typeof BUILTIN_STEPS.migratePagesBatch>) {
      const rc = yield* BUILTIN_STEPS.migratePagesBatch(...args);
      return rc;
    }
    const a = defineVariant({ name: 's', extends: 'v6.3', steps: { migratePagesBatch: batchA } });
    const b = defineVariant({ name: 's', extends: 'v6.3', steps: { migratePagesBatch: batchB } });
    const copy = defineVariant({ name: 's', extends: 'v6.3', steps: { folioCopy: () => {} } });
    const hashes = [VARIANTS['v6.3'], a, b, copy].map(variantContentHash);
    expect(new Set(hashes).size).toBe(4);
    expect(JSON.parse(variantSettingsJson(a)).steps).toEqual({ migratePagesBatch: String(batchA) });
    // Inherited through extends, replaced by name.
    const c = defineVariant({ name: 'c', extends: a, steps: { folioCopy: () => {} } });
    expect(Object.keys(c.steps!)).toEqual(['migratePagesBatch', 'folioCopy']);
    expect(
      errorOf(() =>
        defineVariant({ name: 'v6.3', extends: 'v6.3', steps: { folioCopy: () => {} } }),
      ).message,
    ).toMatch(/settings differ from it \(steps\)/);
  });

  it('sha256Hex agrees with node:crypto on lengths around the block boundary', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const s = 'é'.repeat(n % 3) + 'a'.repeat(n);
      expect(sha256Hex(s)).toBe(createHash('sha256').update(s).digest('hex'));
    }
  });

  it('ignores name, description and sources, and tells every built-in variant apart', () => {
    const a = rfcOnV63();
    const b = defineVariant({
      name: 'other-name',
      extends: 'v6.3',
      description: 'the same policy',
      sources: ['somewhere'],
      syncBatching: 'batch-all-modes',
      forceFromPass3: true,
      batchFlush: 'always',
    });
    expect(variantContentHash(a)).toBe(variantContentHash(b));
    expect(variantContentHash(a)).not.toBe(variantContentHash(VARIANTS['v6.3']));
    const all = Object.values(VARIANTS).map(variantContentHash);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('the prototype knobs are validated settings', () => {
  it('refuses a batch size or pass count that is not a positive integer, naming the field', () => {
    expect(
      errorOf(() => defineVariant({ name: 'x', extends: 'v6.3', batchSize: 0 })).message,
    ).toMatch(/variant x\.batchSize must be an integer from 1 to 1048576, got 0/);
    expect(
      errorOf(() => defineVariant({ name: 'x', extends: 'v6.3', passesSync: 2.5 })).message,
    ).toMatch(/variant x\.passesSync must be an integer from 1 to 1000, got 2\.5/);
    expect(
      errorOf(() => defineVariant({ name: 'x', extends: 'v6.3', batchSize: '4' as never })).message,
    ).toMatch(/batchSize must be an integer/);
    expect(
      errorOf(() =>
        defineVariant({ name: 'x', extends: 'v6.3', splitPolicy: 'sometimes' as never }),
      ).message,
    ).toMatch(/variant x\.splitPolicy must be 'on-failure' or 'never', got "sometimes"/);
    expect(
      errorOf(() =>
        defineVariant({ name: 'x', extends: 'v6.3', copyStrategy: 'sometimes' as never }),
      ).message,
    ).toMatch(/variant x\.copyStrategy must be 'in-move' or 'batch-precopy', got "sometimes"/);
  });

  it('refuses an async-first phase that leaves the one-folio phase no pass', () => {
    expect(
      errorOf(() => defineVariant({ name: 'x', extends: 'v6.3', passesSync: 3 })).message,
    ).toMatch(/variant x\.asyncFirstPasses \(3\) must be less than passesSync \(3\)/);
    // Legal: the same pass count where sync batches (no async phase), or a smaller async phase.
    expect(
      defineVariant({ name: 'x', extends: 'v6.3', passesSync: 1, syncBatching: 'batch-all-modes' })
        .passesSync,
    ).toBe(1);
    expect(
      defineVariant({ name: 'x', extends: 'v6.3', passesSync: 2, asyncFirstPasses: 1 }).passesSync,
    ).toBe(2);
    expect(
      defineVariant({
        name: 'x',
        extends: 'v6.3',
        passesSyncLight: 1,
        syncBatching: 'batch-sync-light',
      }).passesSyncLight,
    ).toBe(1);
  });

  it('accepts the former avoidForceLock as batchLockStrategy, but not both', () => {
    expect(
      defineVariant({ name: 'x', extends: 'v6.3', avoidForceLock: true }).batchLockStrategy,
    ).toBe('deadlock-avoid');
    const off = defineVariant({ name: 'x', extends: 'v6.3-rc1', avoidForceLock: false });
    expect(off.batchLockStrategy).toBe('sleep');
    expect('avoidForceLock' in off).toBe(false);
    expect(
      errorOf(() =>
        defineVariant({
          name: 'x',
          extends: 'v6.3',
          avoidForceLock: true,
          batchLockStrategy: 'trylock',
        }),
      ).message,
    ).toMatch(/avoidForceLock is the former name of batchLockStrategy/);
    const { batchLockStrategy: _b, ...legacy } = VARIANTS['v6.3-rc1'];
    expect(resolveVariant({ ...legacy, avoidForceLock: true } as never).batchLockStrategy).toBe(
      'deadlock-avoid',
    );
  });

  it('refuses steps that are not the replaceable ones or not functions', () => {
    expect(
      errorOf(() =>
        defineVariant({ name: 'x', extends: 'v6.3', steps: { migratePages: () => {} } as never }),
      ).message,
    ).toMatch(
      /variant x\.steps\.migratePages is not a replaceable step \(steps: migratePagesBatch, migrateFolioMove, folioCopy\)/,
    );
    expect(
      errorOf(() =>
        defineVariant({ name: 'x', extends: 'v6.3', steps: { folioCopy: 'skip' } as never }),
      ).message,
    ).toMatch(/variant x\.steps\.folioCopy must be a function, got string/);
  });
});
