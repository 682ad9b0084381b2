import { createKernel } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import { kernelInvariants } from '../src/index.js';

/**
 * `rmap-consistent` runs a machine's first eight step checks in full and the incremental
 * pass after them (recording pays only when later passes replay it); the end check is full.
 */
describe('rmap-consistent: full first step checks, then incremental', () => {
  it('asks for the incremental pass from the ninth step check on, never at the end', () => {
    const k = createKernel({ nodes: [{ pages: 64 }] });
    const asked: (boolean | undefined)[] = [];
    const check = k.vm.check.bind(k.vm);
    k.vm.check = (options) => {
      asked.push(options?.incremental);
      return check(options);
    };
    const [inv] = kernelInvariants(k, { only: ['rmap-consistent'], stride: 1 });
    for (let step = 0; step < 10; step++) expect(inv!.check('step')).toBeNull();
    expect(inv!.check('end')).toBeNull();
    expect(asked).toEqual([...Array(8).fill(false), true, true, false]);
  });
});
