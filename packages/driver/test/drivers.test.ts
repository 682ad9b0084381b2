import { folioNid, folioRefCount, folioTestFlag, PG_isolated, PG_locked } from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { defineVariant, MIGRATE_ASYNC, MIGRATE_SYNC, type MigrateVariant } from '@mmsim/migrate';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { type AttachedDriver, virtioBalloon, ZS_OBJS_PER_PAGE, zsmalloc } from '../src/index.js';
import { migrateAll } from './support.js';

const mainline2025 = defineVariant({
  name: 'mainline-2025',
  extends: 'v6.11',
  movableProtocol: 'page-type-2025',
});

function machine(seed: number, variant: string | MigrateVariant = 'v6.3'): Kernel {
  return createKernel({
    nodes: [{ pages: 256 }, { pages: 256 }],
    cpusPerNode: 2,
    strategy: 'random',
    seed,
    variant: variant as never,
  });
}

/** A compactor: `rounds` passes over the driver's pages, alternating target nodes. */
function compactor(k: Kernel, d: AttachedDriver<unknown>, cpu: number, rounds: number) {
  k.rt.spawn(`compact-${cpu}`, cpu, function* (): KernelGen {
    for (let r = 0; r < rounds; r++) {
      yield* migrateAll(
        k,
        () => d.host.pages,
        (r + cpu) % 2,
        r % 2 === 0 ? MIGRATE_ASYNC : MIGRATE_SYNC,
      );
      yield;
    }
  });
}

/** What must hold at the end for any driver: every page the driver's, idle, one reference. */
function expectSettled(k: Kernel, d: AttachedDriver<unknown>): void {
  for (const f of d.host.pages) {
    expect(folioRefCount(k.mem, f)).toBe(1);
    expect(folioTestFlag(k.mem, f, PG_isolated)).toBe(false);
    expect(folioTestFlag(k.mem, f, PG_locked)).toBe(false);
  }
  expect(k.shadow.verifyAll()).toEqual([]);
  expect(k.driverErrors).toEqual([]);
  expect(k.migrate.warnings).toEqual([]);
}

describe('virtio-balloon (mm/balloon_compaction.c, drivers/virtio/virtio_balloon.c)', () => {
  for (const variant of ['v6.3', 'v6.2', mainline2025, 'v6.17'] as const) {
    const name = typeof variant === 'string' ? variant : variant.name;
    for (const seed of [1, 2, 3, 4, 5]) {
      it(`${name} seed ${seed}: compaction, inflate and deflate together keep the balloon's list and counts`, () => {
        const k = machine(seed, variant);
        const d = virtioBalloon.attach(k);
        d.populate(0, 8);
        compactor(k, d, 0, 3);
        k.spawn(d.actor('inflate', { cpu: 1, arg: 4 }));
        k.spawn(d.actor('deflate', { cpu: 2, arg: 5 }));
        k.run();
        const s = d.state;
        expect(s.isolatedPages).toBe(0);
        expect(new Set(s.pages)).toEqual(new Set(d.host.pages));
        expect(s.numPages).toBe(s.pages.length);
        expect(s.stats.inflated - s.stats.deflated).toBe(s.pages.length);
        expect(s.balloonLock.owner).toBeNull();
        expect(s.stats.migrated).toBeGreaterThan(0);
        expectSettled(k, d);
      });
    }
  }

  it('migrate_page gives -EAGAIN while an inflate holds balloon_lock, and moves the page later', () => {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256 }], strategy: 'in-order' });
    const d = virtioBalloon.attach(k);
    d.populate(0, 2);
    k.rt.spawn('holder', 0, function* (): KernelGen {
      yield* d.state.balloonLock.lock();
      yield* k.rt.sleepFor(1_000_000);
      d.state.balloonLock.unlock();
    });
    k.rt.spawn('compact', 1, function* (): KernelGen {
      yield* migrateAll(k, () => d.host.pages, 1, MIGRATE_ASYNC);
      yield* k.rt.sleepFor(2_000_000);
      yield* migrateAll(k, () => d.host.pages, 1, MIGRATE_ASYNC);
    });
    k.run();
    expect(d.state.stats.eagain).toBeGreaterThan(0);
    expect(d.host.pages.map((f) => folioNid(k.mem, f))).toEqual([1, 1]);
    expectSettled(k, d);
  });
});

describe('zsmalloc (mm/zsmalloc.c)', () => {
  for (const variant of ['v6.3', 'v6.11', mainline2025, 'v6.17'] as const) {
    const name = typeof variant === 'string' ? variant : variant.name;
    for (const seed of [1, 2, 3, 4, 5]) {
      it(`${name} seed ${seed}: migration with zs_malloc, zs_free and zs_compact keeps every object`, () => {
        const k = machine(seed, variant);
        const d = zsmalloc.attach(k);
        d.populate(0, 6);
        compactor(k, d, 0, 3);
        k.spawn(d.actor('zs_free', { cpu: 1, arg: 10 }));
        k.spawn(d.actor('zs_malloc', { cpu: 2, arg: 5 }));
        k.spawn(d.actor('zs_compact', { cpu: 3, arg: 3 }));
        k.run();
        const s = d.state;
        // Every live handle reads its word (the shadow memory checks it), every zspage
        // page is one of the driver's, and the in-use counts add up.
        expect(s.live.length).toBe(s.handles.size);
        const inuse = s.zspages.reduce((n, z) => n + z.inuse, 0);
        expect(inuse).toBe(s.handles.size);
        for (const z of s.zspages) for (const p of z.pages) expect(d.host.pages).toContain(p);
        expect(s.stats.migrated).toBeGreaterThan(0);
        expectSettled(k, d);
      });
    }
  }

  it('zs_free of the last object of a zspage frees the zspage', () => {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256 }], strategy: 'in-order' });
    const d = zsmalloc.attach(k);
    d.populate(0, 4); // two full zspages
    k.spawn(d.actor('zs_free', { cpu: 0, arg: ZS_OBJS_PER_PAGE * 2 + 2 }));
    k.run();
    expect(d.state.zspages.map((z) => z.inuse)).toEqual([6]);
    expect(d.host.pages).toHaveLength(2);
    expectSettled(k, d);
  });

  it('zs_compact moves the objects of the least used zspage into the most used one with room and frees it', () => {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256 }], strategy: 'in-order' });
    const d = zsmalloc.attach(k);
    d.populate(0, 4); // two full zspages of 8 objects: handles 1-8 and 9-16
    const s = d.state;
    // Free six objects of the first zspage and three of the second.
    s.live.splice(0, s.live.length, 1, 2, 3, 4, 5, 6, 9, 10, 11, 7, 8, 12, 13, 14, 15, 16);
    const seen: number[][] = [];
    const free = d.actor('zs_free', { cpu: 0, arg: 9 });
    const compact = d.actor('zs_compact', { cpu: 0, arg: 1 });
    k.rt.spawn('zs', 0, function* (task): KernelGen {
      yield* free.body(task);
      seen.push(s.zspages.map((z) => z.inuse));
      yield* compact.body(task);
      seen.push(s.zspages.map((z) => z.inuse));
    });
    k.run();
    expect(seen).toEqual([[2, 5], [7]]);
    expect(s.stats.compacted).toBe(2);
    expect(s.stats.zspagesFreed).toBe(1);
    expect(d.host.pages).toHaveLength(2);
    expectSettled(k, d);
  });
});
