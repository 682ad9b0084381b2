import { createKernel } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import { kernelInvariants } from '../src/index.js';

/**
 * `rmap-consistent` asks for the incremental pass on every strided step check, from a
 * machine's first (recording costs no more than a full check: no side table per machine,
 * records from the machine's recycler), and for the full check at the end.
 */
describe('rmap-consistent: incremental step checks, a full end check', () => {
  it('asks for the incremental pass at every step check, never at the end', () => {
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
    expect(asked).toEqual([...Array(10).fill(true), false]);
  });
});
