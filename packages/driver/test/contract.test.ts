import {
  folioNid,
  folioRefCount,
  folioTestFlag,
  PG_isolated,
  PG_locked,
  setPageContent,
} from '@mmsim/folio';
import { folioMovableOps, MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { defineDriver } from '../src/index.js';
import { migrateAll, twoNodes } from './support.js';

/** The smallest correct driver: its pages on a list, moved by `host.movePage`. */
const trivial = defineDriver({
  name: 'trivial',
  setup: () => ({ migrated: 0 }),
  isolatePage: () => true,
  migratePage(s, dst, src, _mode, host) {
    host.movePage(dst, src);
    s.migrated++;
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage() {},
  populate(_s, host, nid, count) {
    for (let i = 0; i < count; i++) host.allocPage(nid, 1000 + i);
  },
});

describe('the driver SDK contract', () => {
  it('a trivial driver attached to a kernel: its pages migrate with migrate_pages and keep their contents', () => {
    const k = twoNodes();
    const d = trivial.attach(k);
    d.populate(0, 8);
    const before = [...d.host.pages];
    expect(before).toHaveLength(8);
    for (const f of before) {
      expect(folioNid(k.mem, f)).toBe(0);
      expect(folioMovableOps(k.mem, f)).toBe(d.mops);
      expect(folioRefCount(k.mem, f)).toBe(1);
    }
    let isolated = -1;
    k.rt.spawn('compact', 0, function* (): KernelGen {
      const r = yield* migrateAll(k, () => d.host.pages, 1);
      isolated = r.isolated;
      expect(r.result?.stats.nrSucceeded).toBe(8);
    });
    k.run();
    expect(isolated).toBe(8);
    expect(d.state.migrated).toBe(8);
    const after = d.host.pages;
    expect(after).toHaveLength(8);
    after.forEach((f, i) => {
      expect(folioNid(k.mem, f)).toBe(1);
      expect(d.host.readPage(f)).toBe(1000 + i);
      expect(folioRefCount(k.mem, f)).toBe(1);
      expect(folioTestFlag(k.mem, f, PG_isolated)).toBe(false);
      expect(folioTestFlag(k.mem, f, PG_locked)).toBe(false);
    });
    expect(k.shadow.verifyAll()).toEqual([]);
    // The frame-accounting invariant sees the driver's reference.
    const holder = k.referenceHolders.find((h) => h.name === 'trivial');
    expect(after.map((f) => holder?.refs(f))).toEqual(after.map(() => 1));
    expect(before.map((f) => holder?.refs(f))).toEqual(before.map(() => 0));
  });

  it('a driver that loses the copy is caught by the shadow memory', () => {
    const k = twoNodes();
    const lossy = defineDriver({
      ...trivial.spec,
      name: 'lossy',
      migratePage(_s, dst, src, _mode, host) {
        host.movePage(dst, src);
        // A store that bypasses the host (a copy gone wrong): the shadow memory sees it.
        setPageContent(host.kernel.mem, dst, 0);
        return MIGRATEPAGE_SUCCESS;
      },
    });
    const d = lossy.attach(k);
    d.populate(0, 2);
    k.rt.spawn('compact', 0, function* (): KernelGen {
      yield* migrateAll(k, () => d.host.pages, 1);
    });
    k.run();
    expect(k.shadow.verifyAll()).toEqual([
      'lossy[0] holds 0, but the last value written there was 1000 (by lossy): a write was lost',
      'lossy[1] holds 0, but the last value written there was 1001 (by lossy): a write was lost',
    ]);
  });

  it('freePage gives the page back: no reference, no shadow key, not in pages', () => {
    const k = twoNodes();
    const d = trivial.attach(k);
    d.populate(0, 3);
    const [a, b, c] = d.host.pages as [number, number, number];
    d.host.freePage(a);
    expect(d.host.pages).toEqual([b, c]);
    expect(k.referenceHolders.find((h) => h.name === 'trivial')?.refs(a)).toBe(0);
    expect(() => folioRefCount(k.mem, a)).toThrow(/is free/);
    expect(k.shadow.verifyAll()).toEqual([]);
    expect(() => d.host.freePage(a)).toThrow(/folio \d+ is not one of the driver's pages/);
  });

  it('operations run as actors', () => {
    const k = twoNodes();
    const grow = defineDriver({
      ...trivial.spec,
      name: 'grow',
      operations: {
        *inflate(_s, host, n): KernelGen {
          for (let i = 0; i < n; i++) {
            host.allocPage(1, 7);
            yield;
          }
        },
      },
    });
    const d = grow.attach(k);
    k.spawn(d.actor('inflate', { cpu: 0, arg: 3 }));
    k.run();
    expect(d.host.pages.map((f) => folioNid(k.mem, f))).toEqual([1, 1, 1]);
    expect(() => d.actor('deflate', { cpu: 0 })).toThrow(
      /grow has no operation deflate \(it has inflate\)/,
    );
  });

  it('a malformed spec is a typed error naming the member', () => {
    expect(() => defineDriver({ ...trivial.spec, migratePage: undefined as never })).toThrow(
      /driver trivial: migratePage must be a function/,
    );
  });
});
