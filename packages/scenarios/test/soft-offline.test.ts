import { folioAlloc, folioGet, PG_hwpoison, pageSetFlag } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, exploreScenario, kernelInvariants, runScenario } from '../src/index.js';

/** The soft-offline scenario and the frame accounting of poisoned pages. */

describe('soft-offline', () => {
  it('runs clean in v6.3 and reports num_poisoned_pages and pgmigrate_success (MR_MEMORY_FAILURE)', () => {
    const run = runScenario(builtinScenario('soft-offline'), {
      variant: 'v6.3',
      invariantStride: 1,
    });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const figures = run.figures!;
    expect(figures.num_poisoned_pages).toBe(4 - figures.soft_offline_failed!);
    expect(figures.pgmigrate_success).toBe(figures.num_poisoned_pages);
    expect(figures.num_poisoned_pages).toBeGreaterThan(0);
  });

  it('explored (random schedules, every invariant after every step): no finding', {
    timeout: 120_000,
  }, () => {
    const r = exploreScenario(builtinScenario('soft-offline', { accesses: 16 }), {
      variant: 'v6.3',
      schedules: 8,
      invariantStride: 1,
      shrink: false,
    });
    expect(r.message).toMatch(/no finding/);
  });
});

describe('frames-conserved and poisoned pages', () => {
  function framesProblem(setup: (k: ReturnType<typeof createKernel>) => void): string | null {
    const k = createKernel({ nodes: [{ pages: 512 }] });
    setup(k);
    const inv = kernelInvariants(k, { only: ['frames-conserved'] })[0]!;
    return inv.check('end');
  }

  it('a poisoned page holding its one reference is accounted for', () => {
    expect(
      framesProblem((k) => {
        k.rt.spawn('t', 0, function* (): KernelGen {
          expect(yield* k.softOfflinePage(100)).toBe(0);
        });
        k.run();
      }),
    ).toBeNull();
  });

  it('a poisoned page with a reference more is a leak, and an unpoisoned page nobody holds too', () => {
    expect(
      framesProblem((k) => {
        const f = folioAlloc(k.mem, 0, 0) as number;
        pageSetFlag(k.mem, f, PG_hwpoison);
        folioGet(k.mem, f);
      }),
    ).toMatch(/refcount 2 but .* hold 1: a reference leaked/);
    expect(
      framesProblem((k) => {
        folioAlloc(k.mem, 0, 0);
      }),
    ).toMatch(/refcount 1 but .* hold 0: a reference leaked/);
  });
});
