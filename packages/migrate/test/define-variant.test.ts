import { createHash } from 'node:crypto';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  defineVariant,
  resolveVariant,
  sha256Hex,
  VARIANT_SETTING_KEYS,
  VARIANTS,
  variantContentHash,
  variantSettingsJson,
} from '../src/index.js';

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
    expect(Object.keys(JSON.parse(json))).toEqual([...VARIANT_SETTING_KEYS]);
    expect(variantContentHash(v)).toBe(createHash('sha256').update(json).digest('hex'));
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
