import { defineVariant, VARIANTS } from '@mmsim/migrate';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  createKernel,
  type KernelConfig,
  variantFileJsonSchema,
  variantFileSchema,
} from '../src/index.js';

const NODE = { pages: 1024 };

describe('createKernel with a variant value', () => {
  it('runs the custom variant under its own name', () => {
    const v = defineVariant({ name: 'trylock-6.3', extends: 'v6.3', splitTrylockInAsync: true });
    const k = createKernel({ nodes: [NODE], variant: v });
    expect(k.variant.name).toBe('trylock-6.3');
    expect(k.variant.splitTrylockInAsync).toBe(true);
    expect(k.config.variant).toBe(v);
  });

  it('refuses a bad value naming the field, as INVALID_CONFIG', () => {
    let error: unknown;
    try {
      createKernel({
        nodes: [NODE],
        variant: { ...VARIANTS['v6.3'], name: 'x', engine: 'turbo' },
      } as unknown as KernelConfig);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MmsimError);
    expect((error as MmsimError).code).toBe('INVALID_CONFIG');
    expect((error as MmsimError).message).toMatch(
      /^variant\.engine must be 'unmap-and-move' or 'batch'/,
    );
  });
});

describe('variantFileSchema', () => {
  it('accepts extends plus settings', () => {
    const ok = variantFileSchema.safeParse({
      extends: 'v6.3',
      syncBatching: 'batch-all-modes',
      forceFromPass3: true,
    });
    expect(ok.success).toBe(true);
  });

  it('refuses an unknown key, a wrong value and a missing extends, naming the field', () => {
    const unknown = variantFileSchema.safeParse({ extends: 'v6.3', syncBatchng: 'async-first' });
    expect(unknown.success).toBe(false);
    expect(unknown.error?.issues[0]).toMatchObject({
      code: 'unrecognized_keys',
      keys: ['syncBatchng'],
    });
    const wrong = variantFileSchema.safeParse({ extends: 'v6.3', batchFlush: 'sometimes' });
    expect(wrong.error?.issues[0]?.path).toEqual(['batchFlush']);
    expect(wrong.error?.issues[0]?.message).toMatch(
      /must be one of 'never', 'always', 'async-only'/,
    );
    const noBase = variantFileSchema.safeParse({ batchFlush: 'always' });
    expect(noBase.error?.issues[0]?.path).toEqual(['extends']);
  });

  it('its JSON Schema lists every setting with its values', () => {
    const s = variantFileJsonSchema() as {
      definitions: {
        VariantFile: {
          properties: Record<string, { enum?: string[]; type?: string }>;
          required: string[];
          additionalProperties: boolean;
        };
      };
    };
    const f = s.definitions.VariantFile;
    expect(f.required).toEqual(['extends']);
    expect(f.additionalProperties).toBe(false);
    expect(f.properties.batchFlush?.enum).toEqual(['never', 'always', 'async-only']);
    expect(f.properties.forceFromPass3?.type).toBe('boolean');
  });
});
