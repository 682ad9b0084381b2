import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  kernelConfigJsonSchema,
  MAX_MACHINE_PAGES,
  MAX_STEPS,
  resolveKernelConfig,
} from '../src/index.js';

/** The error `resolveKernelConfig(config)` throws (it must throw). */
function errorOf(config: unknown): MmsimError {
  try {
    resolveKernelConfig(config as Parameters<typeof resolveKernelConfig>[0]);
  } catch (error) {
    expect(error).toBeInstanceOf(MmsimError);
    return error as MmsimError;
  }
  throw new Error(`accepted ${JSON.stringify(config)}`);
}

describe('documented maxima of a configuration', () => {
  it('refuses a machine of more than MAX_MACHINE_PAGES frames in all, naming nodes', () => {
    const quarter = MAX_MACHINE_PAGES / 4;
    const error = errorOf({ nodes: Array.from({ length: 5 }, () => ({ pages: quarter })) });
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(
      `nodes: the machine has ${5 * quarter} pages in all; at most ${MAX_MACHINE_PAGES}`,
    );
  });

  it('accepts a machine of exactly MAX_MACHINE_PAGES frames (it is resolved, not built)', () => {
    const quarter = MAX_MACHINE_PAGES / 4;
    const r = resolveKernelConfig({ nodes: Array.from({ length: 4 }, () => ({ pages: quarter })) });
    expect(r.nodes.reduce((n, node) => n + node.pages, 0)).toBe(MAX_MACHINE_PAGES);
  });

  it('maxSteps is at most MAX_STEPS', () => {
    expect(resolveKernelConfig({ nodes: [{ pages: 1024 }], maxSteps: MAX_STEPS }).maxSteps).toBe(
      MAX_STEPS,
    );
    expect(errorOf({ nodes: [{ pages: 1024 }], maxSteps: MAX_STEPS + 1 }).message).toMatch(
      /^maxSteps must be a number of scheduling points \(an integer in \[1, 1000000000\]\)/,
    );
  });

  it('the JSON Schema describes every field of the configuration', () => {
    const schema = kernelConfigJsonSchema() as {
      definitions: { KernelConfig: { properties: Record<string, { description?: string }> } };
    };
    const props = schema.definitions.KernelConfig.properties;
    for (const [key, value] of Object.entries(props)) {
      expect(typeof value.description, key).toBe('string');
    }
  });
});
