import { type Folio, folioNid, folioPut, folioTryGet } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { foliosOf, mapAnon } from '@mmsim/rmap/test';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MR_SYSCALL,
  VARIANTS,
  type VariantName,
} from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
} from '../src/testing/index.js';

/**
 * The order of copy and reference freeze in `__migrate_folio`. 6.3: `folio_migrate_mapping`
 * freezes src's references and moves the mapping, then `folio_migrate_copy` copies; a
 * reference that appears later cannot stop the move. 6.12 (Kefeng Wang, "mm: migrate:
 * support poisoned recover from migrate folio", the `copyBeforeFreeze` switch): the
 * references are checked, src is copied with `folio_mc_copy`, and only then frozen; a
 * reference taken during the copy (here a PFN walker's speculative `folio_try_get`, as
 * compaction's scanner or page_idle take them) makes the freeze fail: -EAGAIN after a
 * wasted copy, and the move is tried again in the next pass.
 */

interface Outcome {
  rc: number;
  succeeded: number;
  failed: number;
  copies: number;
  walkerGotRef: boolean;
  value: number;
  nid: number;
}

/**
 * One anonymous page migrated to node 1 in `mode`, on the cost model's virtual time
 * ('lowest-clock'); a PFN walker on CPU 1 takes a speculative reference on src while the
 * first copy of it runs, and holds it for `holdNs` of virtual time (Infinity: until the
 * migration returns).
 */
function migrateWithWalker(variant: VariantName, mode: MigrateMode, holdNs: number): Outcome {
  const m = buildMachine({ variant, nodes: [1024, 1024], strategy: 'lowest-clock' });
  const mm = m.vm.createProcess('app');
  const addr = mapAnon(m, mm, 1);
  let copies = 0;
  let src: Folio = -1;
  const migrated = new Completion(m.rt, 'migrated');
  m.rt.trace.on('mmsim_folio_copied', (e) => {
    if (e.fields.src === src) copies++;
  });
  const out: Partial<Outcome> = { walkerGotRef: false };
  // A PFN scanner running on CPU 1 (as compaction's scanner does), 100 ns a step, that
  // takes a speculative reference on src once a copy of it has started.
  spawn(m, 'pfn-walker', 1, function* (): KernelGen {
    while (copies === 0 && out.rc === undefined) {
      m.rt.charge(100);
      yield;
    }
    if (out.rc !== undefined) return;
    // get_page_unless_zero: fails only while the references are frozen or src is freed.
    if (!folioTryGet(m.mem, src)) return;
    out.walkerGotRef = true;
    if (holdNs === Number.POSITIVE_INFINITY) yield* migrated.wait();
    else {
      const until = m.rt.current.cpu.clock + holdNs;
      while (m.rt.current.cpu.clock < until) {
        m.rt.charge(100);
        yield;
      }
    }
    folioPut(m.mem, src);
  });
  spawn(m, 'migrate', 0, function* (): KernelGen {
    yield* m.vm.userWrite(mm, addr, 4242);
    const folios = foliosOf(m, mm, addr, 1);
    src = folios[0]!;
    const list = newList(m);
    yield* isolateFolios(m, folios, list);
    const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
    if (list.size > 0) yield* m.core.putbackMovablePages(list);
    migrated.complete();
    out.rc = rc;
    out.succeeded = stats.nrSucceeded;
    out.failed = stats.nrFailedPages;
    out.value = yield* m.vm.userRead(mm, addr);
    out.nid = folioNid(m.mem, m.vm.followPage(mm, addr));
  });
  runAll(m);
  expectQuiescent(m);
  return { ...(out as Outcome), copies };
}

describe('copyBeforeFreeze: folio_mc_copy before the reference freeze (6.12)', () => {
  it('only v6.12 and v6.17 (which extends it) copy first', () => {
    for (const name of Object.keys(VARIANTS) as VariantName[]) {
      expect(VARIANTS[name].copyBeforeFreeze, name).toBe(name === 'v6.12' || name === 'v6.17');
    }
  });

  it('with no other reference, both orders migrate the page with one copy', () => {
    for (const variant of ['v6.3', 'v6.12'] as const) {
      const r = migrateWithWalker(variant, MIGRATE_ASYNC, 0);
      expect(r, variant).toMatchObject({ rc: 0, succeeded: 1, copies: 1, value: 4242, nid: 1 });
    }
  });

  it('a reference taken during the copy and dropped 500 ns later: v6.3 has moved the page already; v6.12 gets -EAGAIN after a wasted copy and migrates it on the sync retry', () => {
    // 6.3: the copy comes after the freeze and the mapping move, in the same step; when
    // the walker looks again, src is migrated (and freed).
    expect(migrateWithWalker('v6.3', MIGRATE_SYNC, 500)).toMatchObject({
      rc: 0,
      succeeded: 1,
      copies: 1,
      walkerGotRef: false,
      value: 4242,
      nid: 1,
    });
    // 6.12: the walker's reference makes the freeze after the copy fail (-EAGAIN); the
    // async passes fail the reference check at once, and the one-folio sync pass that
    // follows (migrate_pages_sync), the reference gone, copies again and moves the page.
    expect(migrateWithWalker('v6.12', MIGRATE_SYNC, 500)).toMatchObject({
      rc: 0,
      succeeded: 1,
      copies: 2,
      walkerGotRef: true,
      value: 4242,
      nid: 1,
    });
  });

  it('a reference dropped before the freeze changes nothing in v6.12', () => {
    expect(migrateWithWalker('v6.12', MIGRATE_ASYNC, 100)).toMatchObject({
      rc: 0,
      succeeded: 1,
      copies: 1,
      walkerGotRef: true,
      nid: 1,
    });
  });

  it('a reference held through every pass: v6.12 fails the page after one copy and puts it back intact; v6.3 migrates it', () => {
    for (const mode of [MIGRATE_ASYNC, MIGRATE_SYNC] as MigrateMode[]) {
      expect(migrateWithWalker('v6.12', mode, Number.POSITIVE_INFINITY)).toMatchObject({
        rc: 1,
        succeeded: 0,
        failed: 1,
        copies: 1, // later passes fail the reference check before copying
        walkerGotRef: true,
        value: 4242,
        nid: 0,
      });
      expect(migrateWithWalker('v6.3', mode, Number.POSITIVE_INFINITY)).toMatchObject({
        rc: 0,
        succeeded: 1,
        copies: 1,
        value: 4242,
        nid: 1,
      });
    }
  });
});
