import type { Folio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { RmapState } from '../src/internal.js';
import { createRmapMachine } from '../src/testing/index.js';
import { type PooledWalkControl, WalkControlPool } from '../src/walk-pool.js';

class CountingWalk implements PooledWalkControl {
  ctx: RmapState | null = null;
  visits = 0;
  fail = false;

  rmapOne(): boolean {
    this.visits++;
    if (this.fail) throw new Error('rmap_one failed');
    return true;
  }
}

describe('WalkControlPool', () => {
  it('a walk control is bound for its walk and goes back to the pool however the walk ends', () => {
    const m = createRmapMachine();
    const { vm, rt, mem, locks, vmstat } = m;
    const ctx = new RmapState(rt, mem, locks, vmstat, {});
    const pool = new WalkControlPool(() => new CountingWalk());
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    let made: CountingWalk | null = null;
    let threw = false;
    rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      const folio: Folio = vm.followPage(p, addr);
      expect(locks.folioTrylock(folio, 'test')).toBe(true);
      const rwc = pool.take(ctx);
      made = rwc;
      expect(rwc.ctx).toBe(ctx);
      yield* pool.walk(ctx, folio, rwc, false);
      expect(rwc.visits).toBe(1);
      expect(rwc.ctx).toBeNull();
      expect(pool.free).toBe(1);

      const again = pool.take(ctx);
      expect(again).toBe(rwc); // reused, not a new one
      expect(pool.free).toBe(0);
      again.fail = true;
      try {
        yield* pool.walk(ctx, folio, again, false);
      } catch {
        threw = true;
      }
      expect(again.ctx).toBeNull();
      expect(pool.free).toBe(1);
      locks.folioUnlock(folio);
      yield* vm.exit(p);
    });
    rt.run();
    expect(made).not.toBeNull();
    expect(threw).toBe(true);
  });
});
