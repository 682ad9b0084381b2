import { folioAlloc, folioSetFlag, PG_locked } from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import { kernelInvariants } from '../src/index.js';

/**
 * The whole-memory invariants walk the nodes' pfn ranges only: on the historic scenarios'
 * machines (two 64-page nodes, the second starting at pfn 1024) the 960 frames between
 * the nodes are holes, checked by memmap-consistent. These show that what lies on the
 * node after the holes is still checked, in both directions.
 */
describe('kernel invariants on nodes with holes between them', () => {
  function holed(): Kernel {
    return createKernel({ nodes: [{ pages: 64 }, { pages: 64 }] });
  }
  function check(k: Kernel, name: 'frames-conserved' | 'no-lock-held-at-end'): string | null {
    return kernelInvariants(k, { only: [name] })[0]!.check('end');
  }

  it('a sound two-node machine passes frames-conserved and no-lock-held-at-end', () => {
    const k = holed();
    expect(check(k, 'frames-conserved')).toBeNull();
    expect(check(k, 'no-lock-held-at-end')).toBeNull();
  });

  it('frames-conserved finds a leaked folio on the node after the holes', () => {
    const k = holed();
    const folio = folioAlloc(k.mem, 0, 1);
    expect(folio).toBeGreaterThanOrEqual(1024);
    expect(check(k, 'frames-conserved')).toMatch(
      new RegExp(`folio ${folio} \\(node 1, order 0\\) has refcount 1 .* a reference leaked`),
    );
  });

  it('frames-conserved finds frames lost on the node after the holes', () => {
    const k = holed();
    memmapOf(k.mem).nodeFree[1]!--;
    expect(check(k, 'frames-conserved')).toMatch(/node 1: .* frames were lost/);
  });

  it('no-lock-held-at-end finds a folio left locked on the node after the holes', () => {
    const k = holed();
    const folio = folioAlloc(k.mem, 0, 1);
    folioSetFlag(k.mem, folio, PG_locked);
    expect(check(k, 'no-lock-held-at-end')).toMatch(new RegExp(`folio ${folio} is still locked`));
  });
});
