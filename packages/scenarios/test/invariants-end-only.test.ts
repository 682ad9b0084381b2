import { folioAlloc, folioClearFlag, folioSetFlag, PG_locked } from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import type { PageLocks } from '@mmsim/page-lock';
import type { KernelGen } from '@mmsim/runtime';
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

/**
 * A lost wake-up: `w` sleeps on the lock of a folio whose holder clears PG_locked behind the
 * page locks' back (no wake-up), so the run ends with the folio unlocked and `w` still
 * queued. Returns the folio.
 */
function loseAWakeUp(k: Kernel): number {
  const folio = folioAlloc(k.mem, 0, 0);
  k.rt.spawn('h', 0, function* (): KernelGen {
    expect(k.locks.folioTrylock(folio)).toBe(true);
    yield* k.rt.sleepFor(100_000);
    folioClearFlag(k.mem, folio, PG_locked);
  });
  k.rt.spawn('w', 1, function* (): KernelGen {
    yield* k.locks.folioLock(folio);
  });
  k.run();
  return folio;
}

describe('no-lock-held-at-end and the waiters left behind', () => {
  it('reports a waiter left on an unlocked folio (counted by the page locks)', () => {
    const k = createKernel({ nodes: [{ pages: 64 }], cpusPerNode: 2 });
    const folio = loseAWakeUp(k);
    expect(k.locks.folioWaiterCount?.(folio)).toBe(1);
    const [inv] = kernelInvariants(k, { only: ['no-lock-held-at-end'] });
    expect(inv!.check('end')).toBe(`folio ${folio} still has 1 waiter(s)`);
  });

  it('counts with folioWaiters where replaced page locks have no folioWaiterCount', () => {
    const k = createKernel({
      nodes: [{ pages: 64 }],
      cpusPerNode: 2,
      parts: {
        // Every method of the default page locks but the count.
        pageLocks: (base) =>
          new Proxy(base, {
            get(target, key) {
              if (key === 'folioWaiterCount') return undefined;
              const value = Reflect.get(target, key, target);
              return typeof value === 'function' ? value.bind(target) : value;
            },
          }) as PageLocks,
      },
    });
    expect(k.locks.folioWaiterCount).toBeUndefined();
    const folio = loseAWakeUp(k);
    const [inv] = kernelInvariants(k, { only: ['no-lock-held-at-end'] });
    expect(inv!.check('end')).toBe(`folio ${folio} still has 1 waiter(s)`);
  });
});
