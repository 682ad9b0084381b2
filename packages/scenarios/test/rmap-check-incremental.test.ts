import {
  FRAME_HEAD,
  FRAME_TAIL,
  folioClearFlag,
  folioIndex,
  folioRefCount,
  folioRefFreeze,
  folioRefUnfreeze,
  folioSetFlag,
  folioSetIndex,
  folioTestAnon,
  folioTestFlag,
  PG_anon_exclusive,
  PG_dirty,
  PG_locked,
  PG_referenced,
  pageClearFlag,
  pageMapcountDec,
  pageMapcountInc,
  pageSetFlag,
  pageTestFlag,
} from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import type { Kernel } from '@mmsim/kernel';
import {
  isMigrationEntry,
  mkPte,
  PTE_YOUNG,
  pteFlags,
  ptePfn,
  ptePresent,
  pteWrite,
} from '@mmsim/rmap';
import {
  checkRmap,
  type PageTable,
  PTE_RANGE_SLOTS,
  type RmapState,
  rmapStateOf,
} from '@mmsim/rmap/internal';
import { describe, expect, it } from 'vitest';
import { builtinScenario, runScenario } from '../src/index.js';

/*
 * The incremental rmap pass (`checkRmap(ctx, { incremental: true })`) on states made at
 * one step of a pmbench-migrate schedule: a corruption made through the model's writers
 * (`PageTable.set`, the folio flag and index setters) right after a sound incremental
 * pass is found by the next incremental pass, with the full check's problems, and so is a
 * mapcount or refcount changed through the folio setters on a folio of a clean table (whose
 * entries the pass does not count again); a write straight into a table's entries or into
 * a folio's counts or flags is left to the full check; a pass that finds a problem keeps
 * the tables' dirty marks, so the pass after it reads them again. The flag setters mark a
 * frame (`rmapWritten`) for the flags the check reads and for no other, so an entry whose
 * folio no writer marked is passed over without reading its flags.
 */

/** Runs a pmbench-migrate schedule and calls `at` with the machine at step `step`. */
function atStep(step: number, at: (ctx: RmapState) => void): void {
  let n = 0;
  atFirst(() => ++n === step, at);
}

/**
 * Runs a pmbench-migrate schedule and calls `at` with the machine at the first step where
 * `when` holds. What `at` throws (a failed expectation) is thrown again once the run is
 * over: the run itself would take it for the kernel's error and report it in its result.
 */
function atFirst(when: (ctx: RmapState) => boolean, at: (ctx: RmapState) => void): void {
  let kernel: Kernel | null = null;
  const scenario = builtinScenario('pmbench-migrate', { pages: 32, roundTrips: 1 });
  let ran = false;
  let failed: { readonly error: unknown } | null = null;
  runScenario(
    {
      ...scenario,
      build(k) {
        kernel = k;
        return scenario.build(k);
      },
    },
    {
      variant: 'v6.3',
      strategy: 'random',
      seed: 3,
      kernelInvariants: [],
      onStep: () => {
        if (ran || !when(rmapStateOf(kernel!.vm))) return;
        ran = true;
        try {
          at(rmapStateOf(kernel!.vm));
        } catch (error) {
          failed = { error };
        }
      },
    },
  );
  expect(ran).toBe(true);
  if (failed !== null) throw (failed as { readonly error: unknown }).error;
}

/** A present PTE of an anonymous page: its table, slot, vpn and entry. */
function someAnonPte(ctx: RmapState, writable: boolean) {
  const m = memmapOf(ctx.mem);
  for (const mm of ctx.mms) {
    for (const [idx, table] of mm.pageTables) {
      for (let i = 0; i < table.ptes.length; i++) {
        const raw = table.ptes[i]!;
        if (!ptePresent(raw) || pteWrite(raw) !== writable) continue;
        const pfn = ptePfn(raw);
        const s = m.state[pfn];
        const folio = s === FRAME_HEAD ? pfn : s === FRAME_TAIL ? m.headOf[pfn]! : -1;
        if (folio < 0 || !folioTestAnon(ctx.mem, folio)) continue;
        return { table, i, vpn: idx * table.ptes.length + i, raw, pfn, folio };
      }
    }
  }
  throw new Error('no anonymous PTE mapped at this step');
}

/** A migration entry to an anonymous folio in a table of 16 entries or more, or null. */
function someMigrationEntry(ctx: RmapState) {
  const m = memmapOf(ctx.mem);
  for (const mm of ctx.mms) {
    for (const [idx, table] of mm.pageTables) {
      if (table.used < 16) continue;
      for (let i = 0; i < table.ptes.length; i++) {
        const raw = table.ptes[i]!;
        if (!isMigrationEntry(raw)) continue;
        const pfn = ptePfn(raw);
        const s = m.state[pfn];
        const folio = s === FRAME_HEAD ? pfn : s === FRAME_TAIL ? m.headOf[pfn]! : -1;
        if (folio < 0 || !folioTestAnon(ctx.mem, folio)) continue;
        return { table, i, vpn: idx * table.ptes.length + i, raw, pfn, folio };
      }
    }
  }
  return null;
}

/** The kind of slot `i` in the table's record (invariants/incremental.ts `SLOT_*`). */
function slotKind(table: PageTable, i: number): number {
  const rec = table.checkRecord;
  expect(rec).not.toBeNull();
  return rec!.slots[i * 5 + 3]! & 3;
}

const incremental = (ctx: RmapState) => checkRmap(ctx, { incremental: true });
const full = (ctx: RmapState) => checkRmap(ctx);

/** Every page table of every mm, with its dirty mark (a bit per written slot range). */
function dirtyMarks(ctx: RmapState): Map<PageTable, number> {
  const out = new Map<PageTable, number>();
  for (const mm of ctx.mms) for (const table of mm.pageTables.values()) out.set(table, table.dirty);
  return out;
}

describe('incremental rmap-consistent pass', () => {
  it('a PTE written through PageTable.set to another page is found at once', () => {
    atStep(60, (ctx) => {
      expect(incremental(ctx)).toEqual([]);
      // Every table is recorded and clean now.
      expect([...dirtyMarks(ctx).values()].every((d) => d === 0)).toBe(true);
      const e = someAnonPte(ctx, true);
      // The same flags, the next frame's pfn: a mapcount no longer matches, or the frame
      // is not a live folio.
      e.table.set(e.vpn, mkPte(e.pfn + 1, pteFlags(e.raw)));
      try {
        const expected = full(ctx);
        expect(expected.length).toBeGreaterThan(0);
        expect(incremental(ctx)).toEqual(expected);
      } finally {
        e.table.set(e.vpn, e.raw);
      }
      expect(incremental(ctx)).toEqual([]);
    });
  });

  it('PageAnonExclusive cleared under a writable PTE, or a folio index moved, is found at once', () => {
    atStep(60, (ctx) => {
      expect(incremental(ctx)).toEqual([]);
      const e = someAnonPte(ctx, true);
      expect(pageTestFlag(ctx.mem, e.pfn, PG_anon_exclusive)).toBe(true);
      pageClearFlag(ctx.mem, e.pfn, PG_anon_exclusive);
      try {
        const expected = full(ctx);
        expect(expected.some((p) => p.includes('not PageAnonExclusive'))).toBe(true);
        expect(incremental(ctx)).toEqual(expected);
      } finally {
        pageSetFlag(ctx.mem, e.pfn, PG_anon_exclusive);
      }
      expect(incremental(ctx)).toEqual([]);
      const index = folioIndex(ctx.mem, e.folio);
      folioSetIndex(ctx.mem, e.folio, index + 1);
      try {
        const expected = full(ctx);
        expect(expected.some((p) => p.includes('page index'))).toBe(true);
        expect(incremental(ctx)).toEqual(expected);
      } finally {
        folioSetIndex(ctx.mem, e.folio, index);
      }
      expect(incremental(ctx)).toEqual([]);
    });
  });

  it('a mapcount or refcount changed through the folio setters under a clean table is found at once', () => {
    atStep(60, (ctx) => {
      expect(incremental(ctx)).toEqual([]);
      const e = someAnonPte(ctx, true);
      expect(e.table.dirty).toBe(0);
      // One mapcount more than the PTEs mapping the page: the table is not written.
      pageMapcountInc(ctx.mem, e.pfn);
      try {
        const expected = full(ctx);
        expect(expected.some((p) => p.includes(`mapcount`))).toBe(true);
        expect(incremental(ctx)).toEqual(expected);
        expect(e.table.dirty).toBe(0);
      } finally {
        pageMapcountDec(ctx.mem, e.pfn);
      }
      expect(incremental(ctx)).toEqual([]);
      // The refcount frozen to 0 under its mapping's reference.
      const refs = folioRefCount(ctx.mem, e.folio);
      expect(folioRefFreeze(ctx.mem, e.folio, refs)).toBe(true);
      try {
        const expected = full(ctx);
        expect(expected.some((p) => p.includes('refcount 0 below'))).toBe(true);
        expect(incremental(ctx)).toEqual(expected);
      } finally {
        folioRefUnfreeze(ctx.mem, e.folio, refs);
      }
      expect(incremental(ctx)).toEqual([]);
    });
  });

  it("a write straight into a folio's counts is seen only by the full check", () => {
    atStep(60, (ctx) => {
      // The first pass visits every folio; the second follows a sound one.
      expect(incremental(ctx)).toEqual([]);
      expect(incremental(ctx)).toEqual([]);
      const e = someAnonPte(ctx, true);
      const m = memmapOf(ctx.mem);
      const refs = m.refcount[e.folio]!;
      // Not through the refcount setters: no rmapWritten mark.
      m.refcount[e.folio] = 0;
      try {
        expect(full(ctx).some((p) => p.includes('refcount 0 below'))).toBe(true);
        expect(incremental(ctx)).toEqual([]);
        // Marked as a setter would mark it, the same state is found.
        m.rmapWritten[e.folio] = 1;
        expect(incremental(ctx)).toEqual(full(ctx));
      } finally {
        m.refcount[e.folio] = refs;
        m.rmapWritten[e.folio] = 1;
      }
      expect(incremental(ctx)).toEqual([]);
    });
  });

  it('a write straight into a clean table is seen only by the full check', () => {
    atStep(60, (ctx) => {
      expect(incremental(ctx)).toEqual([]);
      const e = someAnonPte(ctx, true);
      expect(e.table.dirty).toBe(0);
      // Not through PageTable.set: no dirty mark.
      e.table.ptes[e.i] = 0;
      try {
        expect(full(ctx).length).toBeGreaterThan(0);
        expect(incremental(ctx)).toEqual([]);
        // Marked as a writer would mark it, the same state is found.
        e.table.markWritten(e.i);
        expect(incremental(ctx)).toEqual(full(ctx));
      } finally {
        e.table.ptes[e.i] = e.raw;
        e.table.markWritten(e.i);
      }
      expect(incremental(ctx)).toEqual([]);
    });
  });

  it('a pass that finds a problem keeps the dirty marks, and the next pass reads the tables again', () => {
    atStep(60, (ctx) => {
      expect(incremental(ctx)).toEqual([]);
      const e = someAnonPte(ctx, true);
      // A legal write (the entry made old), then an rss counter off by one elsewhere.
      e.table.set(e.vpn, (e.raw & ~PTE_YOUNG) >>> 0);
      expect(e.table.dirty).not.toBe(0);
      const mm = [...ctx.mms][0]!;
      mm.rss[0] = mm.rss[0]! + 1;
      let restored = false;
      try {
        const problems = incremental(ctx);
        expect(problems.length).toBeGreaterThan(0);
        expect(problems).toEqual(full(ctx));
        expect(e.table.dirty).not.toBe(0);
        mm.rss[0] = mm.rss[0]! - 1;
        restored = true;
        expect(incremental(ctx)).toEqual([]);
        expect(e.table.dirty).toBe(0);
      } finally {
        if (!restored) mm.rss[0] = mm.rss[0]! - 1;
        e.table.set(e.vpn, e.raw);
      }
      expect(incremental(ctx)).toEqual([]);
    });
  });
  it('a migration entry is recorded, and its folio unlocked or its index moved is found at once', () => {
    atFirst(
      (ctx) => someMigrationEntry(ctx) !== null,
      (ctx) => {
        expect(incremental(ctx)).toEqual([]);
        expect(incremental(ctx)).toEqual([]);
        const e = someMigrationEntry(ctx)!;
        // SLOT_MIGRATION: replayed, not checked again, while nothing it read changes.
        expect(slotKind(e.table, e.i)).toBe(3);
        expect(folioTestFlag(ctx.mem, e.folio, PG_locked)).toBe(true);
        folioClearFlag(ctx.mem, e.folio, PG_locked);
        try {
          const expected = full(ctx);
          expect(expected.some((p) => p.includes('which is not locked'))).toBe(true);
          expect(incremental(ctx)).toEqual(expected);
        } finally {
          folioSetFlag(ctx.mem, e.folio, PG_locked);
        }
        expect(incremental(ctx)).toEqual([]);
        expect(slotKind(e.table, e.i)).toBe(3);
        const index = folioIndex(ctx.mem, e.folio);
        folioSetIndex(ctx.mem, e.folio, index + 1);
        try {
          const expected = full(ctx);
          expect(expected.some((p) => p.includes('page index'))).toBe(true);
          expect(incremental(ctx)).toEqual(expected);
        } finally {
          folioSetIndex(ctx.mem, e.folio, index);
        }
        expect(incremental(ctx)).toEqual([]);
      },
    );
  });

  it("a migration entry's folio unlocked straight in the memmap is seen only by the full check; marked, at once", () => {
    atFirst(
      (ctx) => someMigrationEntry(ctx) !== null,
      (ctx) => {
        expect(incremental(ctx)).toEqual([]);
        expect(incremental(ctx)).toEqual([]);
        const e = someMigrationEntry(ctx)!;
        expect(slotKind(e.table, e.i)).toBe(3);
        const m = memmapOf(ctx.mem);
        const flags = m.flags[e.folio]!;
        // Not through folioClearFlag: no rmapWritten mark, so the slot is not replayed.
        m.flags[e.folio] = flags & ~(1 << PG_locked);
        try {
          const expected = full(ctx);
          expect(expected.some((p) => p.includes('which is not locked'))).toBe(true);
          expect(incremental(ctx)).toEqual([]);
          // Marked as folioClearFlag marks it: found by the next pass.
          m.rmapWritten[e.folio] = 1;
          expect(incremental(ctx)).toEqual(expected);
        } finally {
          m.flags[e.folio] = flags;
          m.rmapWritten[e.folio] = 1;
        }
        expect(incremental(ctx)).toEqual([]);
      },
    );
  });

  it('the flag setters mark the flags the check reads, and only those; a flag set and cleared again stays sound', () => {
    atStep(60, (ctx) => {
      expect(incremental(ctx)).toEqual([]);
      expect(incremental(ctx)).toEqual([]);
      const e = someAnonPte(ctx, true);
      const m = memmapOf(ctx.mem);
      expect(slotKind(e.table, e.i)).toBe(1);
      expect(m.rmapWritten[e.folio]).toBe(0);
      // Flags no verdict reads: no mark, and the slot stays recorded as it was.
      for (const flag of [PG_dirty, PG_referenced]) {
        const had = folioTestFlag(ctx.mem, e.folio, flag);
        if (had) folioClearFlag(ctx.mem, e.folio, flag);
        else folioSetFlag(ctx.mem, e.folio, flag);
        expect(m.rmapWritten[e.folio]).toBe(0);
        if (had) folioSetFlag(ctx.mem, e.folio, flag);
        else folioClearFlag(ctx.mem, e.folio, flag);
      }
      expect(incremental(ctx)).toEqual([]);
      expect(slotKind(e.table, e.i)).toBe(1);
      // PG_locked taken and let go (a legal state either way): marked, replayed, sound.
      const locked = folioTestFlag(ctx.mem, e.folio, PG_locked);
      if (!locked) {
        folioSetFlag(ctx.mem, e.folio, PG_locked);
        expect(m.rmapWritten[e.folio]).toBe(1);
        expect(incremental(ctx)).toEqual([]);
        expect(m.rmapWritten[e.folio]).toBe(0);
        folioClearFlag(ctx.mem, e.folio, PG_locked);
        expect(m.rmapWritten[e.folio]).toBe(1);
        expect(incremental(ctx)).toEqual([]);
        expect(slotKind(e.table, e.i)).toBe(1);
      }
      // PageAnonExclusive marks the page it is set on.
      pageClearFlag(ctx.mem, e.pfn, PG_anon_exclusive);
      expect(m.rmapWritten[e.pfn]).toBe(1);
      pageSetFlag(ctx.mem, e.pfn, PG_anon_exclusive);
      expect(incremental(ctx)).toEqual([]);
      expect(slotKind(e.table, e.i)).toBe(1);
    });
  });

  it('a write straight into a table is read again only when its own slot range is marked', () => {
    atStep(60, (ctx) => {
      expect(incremental(ctx)).toEqual([]);
      const e = someAnonPte(ctx, true);
      const other = (e.i + PTE_RANGE_SLOTS) % e.table.ptes.length;
      e.table.ptes[e.i] = 0;
      try {
        expect(full(ctx).length).toBeGreaterThan(0);
        // Another range marked written: the entry's range is replayed from its record.
        e.table.markWritten(other);
        expect(incremental(ctx)).toEqual([]);
        expect(e.table.dirty).toBe(0);
        e.table.markWritten(e.i);
        expect(incremental(ctx)).toEqual(full(ctx));
      } finally {
        e.table.ptes[e.i] = e.raw;
        e.table.markWritten(e.i);
      }
      expect(incremental(ctx)).toEqual([]);
    });
  });
});
