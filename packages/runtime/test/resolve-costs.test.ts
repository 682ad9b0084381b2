import { describe, expect, it } from 'vitest';
import { DEFAULT_COSTS, MmsimError, Runtime, resolveCosts } from '../src/index.js';

describe('resolveCosts', () => {
  it('merges overrides into the defaults and freezes the result', () => {
    const costs = resolveCosts({ copyPage4k: 700 });
    expect(costs).toEqual({ ...DEFAULT_COSTS, copyPage4k: 700 });
    expect(Object.isFrozen(costs)).toBe(true);
  });

  it('returns a model it resolved as is, so runtimes built from one config share it', () => {
    const costs = resolveCosts({ wakeup: 1234 });
    expect(resolveCosts(costs)).toBe(costs);
    const a = new Runtime({ costs });
    const b = new Runtime({ costs });
    expect(a.costs).toBe(costs);
    expect(b.costs).toBe(costs);
  });

  it('still resolves a complete model it did not make (a copy), and checks it', () => {
    const costs = resolveCosts({});
    const copy = { ...costs, tlbMiss: 77 };
    const again = resolveCosts(copy);
    expect(again).not.toBe(copy);
    expect(again.tlbMiss).toBe(77);
    expect(() => resolveCosts({ ...costs, tlbMiss: -1 })).toThrow(MmsimError);
    expect(() => resolveCosts({ nope: 1 } as never)).toThrow(/not a known cost/);
  });
  it('gives runtimes built without costs one frozen model of the defaults', () => {
    const a = new Runtime();
    const b = new Runtime({ cpus: 2 });
    expect(a.costs).toBe(b.costs);
    expect(a.costs).toEqual(DEFAULT_COSTS);
    expect(Object.isFrozen(a.costs)).toBe(true);
    expect(resolveCosts(undefined)).toBe(a.costs);
    // Overrides still get a model of their own.
    expect(resolveCosts({ tlbMiss: 31 })).not.toBe(a.costs);
  });
});
