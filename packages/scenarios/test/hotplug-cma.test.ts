import { allocPfn, MIGRATE_MOVABLE, startIsolatePageRange } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  exploreScenario,
  kernelInvariants,
  offlineBlock,
  runScenario,
  userPagesOutside,
} from '../src/index.js';

describe('hotplug-offline', () => {
  it('offlines node 1 under two writers in v6.3: every page migrated with MR_MEMORY_HOTPLUG, no violation', () => {
    const run = runScenario(builtinScenario('hotplug-offline'), { invariantStride: 1 });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const f = run.figures;
    expect(f.offline_ret).toBe(0);
    expect(f.pages_offlined).toBeGreaterThan(0);
    expect(f.pages_migrated).toBe(16);
    expect(f.pgmigrate_success).toBeGreaterThanOrEqual(16);
  });

  it('with an unmovable page in the block: -EBUSY and the block given back, no violation', () => {
    const run = runScenario(builtinScenario('hotplug-offline', { unmovable: true }), {
      invariantStride: 1,
    });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    expect(run.figures.offline_ret).toBe(-16);
    expect(run.figures.pages_migrated).toBe(0);
  });

  it('explored (random schedules, every invariant after every step): no finding', {
    timeout: 300_000,
  }, () => {
    const r = exploreScenario(builtinScenario('hotplug-offline', { accesses: 12 }), {
      variant: 'v6.3',
      schedules: 8,
      invariantStride: 1,
      shrink: false,
    });
    expect(r.message).toMatch(/no finding/);
  });
});

describe('cma-under-load', () => {
  it('takes and releases CMA runs under two writers in v6.3: no violation, pages migrated out', () => {
    const run = runScenario(builtinScenario('cma-under-load'), { invariantStride: 1 });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    expect(run.figures.cma_alloc_success).toBe(2);
    expect(run.figures.pages_migrated).toBeGreaterThan(0);
  });

  it('explored: no finding', { timeout: 300_000 }, () => {
    const r = exploreScenario(builtinScenario('cma-under-load', { accesses: 12 }), {
      variant: 'v6.3',
      schedules: 8,
      invariantStride: 1,
      shrink: false,
    });
    expect(r.message).toMatch(/no finding/);
  });
});

describe('user-pages-outside', () => {
  function world() {
    const k = createKernel({ nodes: [{ pages: 2048 }] });
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, i + 1);
    });
    k.run();
    return { k, mm, addr, pfn: k.vm.followPage(mm, addr) };
  }

  it('reports a user page mapped in the range, passes a range without one', () => {
    const { k, mm, addr, pfn } = world();
    const bad = userPagesOutside(k, 'x', mm, addr, 4, () => ({ start: pfn, end: pfn + 1 }));
    expect(bad.check('step')).toMatch(/page 0 of .* is mapped at pfn \d+, inside/);
    const good = userPagesOutside(k, 'x', mm, addr, 4, () => ({ start: 1536, end: 2048 }));
    expect(good.check('step')).toBeNull();
    const none = userPagesOutside(k, 'x', mm, addr, 4, () => null);
    expect(none.check('step')).toBeNull();
  });

  it('offlineBlock is null until the block is offline (an isolated block still holds pages legally)', () => {
    const { k } = world();
    const kernelPage = allocPfn(k.mem, 1100);
    k.addReferenceHolder({ name: 'kernel page', refs: (f) => (f === kernelPage ? 1 : 0) });
    expect(offlineBlock(k, 1024, 1024)()).toBeNull();
    expect(startIsolatePageRange(k.mem, 1536, 2048, MIGRATE_MOVABLE, 0)).toBe(0);
    expect(offlineBlock(k, 1536, 512)()).toBeNull();
    expect(
      kernelInvariants(k, { only: ['frames-conserved', 'memmap-consistent'] }).map((i) =>
        i.check('end'),
      ),
    ).toEqual([null, null]);
  });
});
