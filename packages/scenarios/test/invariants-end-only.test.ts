import { folioAlloc, folioSetFlag, PG_locked } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import { KERNEL_INVARIANT_NAMES, kernelInvariants } from '../src/index.js';

/**
 * `endOnly` lets the explorer skip an invariant after every step, so it may be set only
 * where `check('step')` is null whatever the state: a folio left locked is legal while
 * tasks run and a finding at the end.
 */
describe('end-only kernel invariants', () => {
  it('marks exactly the two end-of-run invariants as end-only', () => {
    const k = createKernel({ nodes: [{ pages: 64 }] });
    const endOnly = kernelInvariants(k)
      .filter((inv) => inv.endOnly === true)
      .map((inv) => inv.name);
    expect(endOnly).toEqual(['no-lock-held-at-end', 'no-migration-entry-at-end']);
    expect(KERNEL_INVARIANT_NAMES.length - endOnly.length).toBe(6);
  });

  it('no-lock-held-at-end accepts a locked folio at a step and reports it at the end', () => {
    const k = createKernel({ nodes: [{ pages: 64 }] });
    const folio = folioAlloc(k.mem, 0, 0);
    folioSetFlag(k.mem, folio, PG_locked);
    const [inv] = kernelInvariants(k, { only: ['no-lock-held-at-end'] });
    expect(inv!.check('step')).toBeNull();
    expect(inv!.check('end')).toMatch(new RegExp(`folio ${folio} is still locked`));
  });
});
