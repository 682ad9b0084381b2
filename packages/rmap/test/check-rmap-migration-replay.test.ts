import { PG_anon_exclusive, PG_locked } from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { describe, expect, it } from 'vitest';
import {
  mkMigrationEntry,
  PAGE_SIZE,
  PTRS_PER_PTE,
  ptePfn,
  SWP_MIGRATION_READ,
} from '../src/index.js';
import { checkRmap, checkRmapReference } from '../src/internal.js';
import { writtenAnonMachine } from './helpers.js';

/*
 * The incremental pass takes a recorded entry replaced by a present or migration entry to
 * a folio whose recorded fields are the slot's (what try_to_migrate_one and
 * remove_migration_ptes write) without the entry's full tests. Tested against
 * `checkRmapReference`: the legal states (a page unmapped for migration, its folio locked;
 * mapped back; two pages swapped with their indexes) pass and leave the recorded counts a
 * pass from scratch makes; an unlocked folio, an index or mapping changed without a change
 * mark, a writable page not PageAnonExclusive are reported as the reference reports them.
 */

/** 24 written anonymous pages in one page table, recorded by a sound incremental pass. */
function machine() {
  const { anon, ctx } = writtenAnonMachine([4096]);
  const mm = [...ctx.mms][0]!;
  const vpn = anon / PAGE_SIZE + 5;
  const table = mm.pageTables.get(Math.floor(vpn / PTRS_PER_PTE))!;
  const slot = vpn % PTRS_PER_PTE;
  const pte = table.ptes[slot]!;
  expect(checkRmap(ctx, { incremental: true })).toEqual([]);
  expect(ctx.rmapCheck?.sound).toBe(true);
  return {
    ctx,
    mem: memmapOf(ctx.mem),
    table,
    slot,
    pte,
    pfn: ptePfn(pte),
    other: table.ptes[slot + 1]!,
  };
}

type Scene = ReturnType<typeof machine>;

/**
 * The page unmapped for migration as try_to_migrate_one leaves it, written straight into
 * the arrays (no change mark): a migration entry through `PageTable.set` (its range
 * written), the mapcount dropped, the folio locked unless `locked` is false.
 */
function unmapForMigration(s: Scene, locked = true): void {
  const { mem, pfn } = s;
  s.table.set(
    s.table.base / PAGE_SIZE + s.slot,
    mkMigrationEntry(pfn, SWP_MIGRATION_READ, false, false, false),
  );
  mem.mapcount[pfn] = mem.mapcount[pfn]! - 1;
  mem.totalMapcount[pfn] = mem.totalMapcount[pfn]! - 1;
  if (locked) mem.flags[pfn] = mem.flags[pfn]! | (1 << PG_locked);
}

/** The machine's recorded counts per pfn (`IncrementalRmapState`) and each record's rss. */
function recordedCounts(s: Scene) {
  const inc = s.ctx.rmapCheck!;
  return {
    ptes: Array.from(inc.ptes!),
    refs: Array.from(inc.refs!),
    slotRefs: Array.from(inc.slotRefs!),
    rss: inc.records.map((rec) => Array.from(rec.rss)),
  };
}

describe('a recorded PTE become a migration entry to the same pfn', () => {
  it('passes with its folio locked, the pass sound, its counts those of a pass from scratch', () => {
    const s = machine();
    unmapForMigration(s);
    expect(checkRmapReference(s.ctx)).toEqual([]);
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    // The incremental pass itself found nothing (not the full check after it).
    expect(s.ctx.rmapCheck?.sound).toBe(true);
    const replayed = recordedCounts(s);
    expect(replayed.ptes[s.pfn]).toBe(0);
    expect(replayed.refs[s.pfn]).toBe(0);
    expect(replayed.slotRefs[s.pfn]).toBe(1);
    // The next pass replays it as recorded.
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    expect(s.ctx.rmapCheck?.sound).toBe(true);
    // A pass from scratch records the same counts.
    s.ctx.rmapCheck!.sound = false;
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    expect(recordedCounts(s)).toEqual(replayed);
  });

  it('reports it when the folio is not locked', () => {
    const s = machine();
    unmapForMigration(s, false);
    const found = checkRmap(s.ctx, { incremental: true });
    expect(found.join('\n')).toMatch(/migration entry to folio .*, which is not locked/);
    expect(found).toEqual(checkRmapReference(s.ctx));
  });

  it("reports it when the folio's index changed, unmarked", () => {
    const s = machine();
    unmapForMigration(s);
    s.mem.index[s.pfn] = s.mem.index[s.pfn]! + 3;
    const found = checkRmap(s.ctx, { incremental: true });
    expect(found.join('\n')).toMatch(/page index/);
    expect(found).toEqual(checkRmapReference(s.ctx));
  });

  it("reports it when the folio's mapping changed, unmarked", () => {
    const s = machine();
    unmapForMigration(s);
    // `folio->mapping` gone (id 0: no object), still tagged anonymous.
    s.mem.mappingId[s.pfn] = 0;
    const found = checkRmap(s.ctx, { incremental: true });
    expect(found.join('\n')).toMatch(/has no anon_vma/);
    expect(found).toEqual(checkRmapReference(s.ctx));
  });

  /**
   * The pages of slots 5 and 6 swapped, their entries and indexes exchanged (each folio
   * mapped where its index says): legal, each slot's new entry mapping a folio whose
   * recorded fields, but the folio, are the slot's. `indexes` false leaves the indexes.
   */
  function swapPages(s: Scene, indexes = true): void {
    const { mem, table, slot } = s;
    const a = ptePfn(s.pte);
    const b = ptePfn(s.other);
    const vpn = table.base / PAGE_SIZE + slot;
    table.set(vpn, s.other);
    table.set(vpn + 1, s.pte);
    if (indexes) {
      const ia = mem.index[a]!;
      mem.index[a] = mem.index[b]!;
      mem.index[b] = ia;
    }
  }

  it('passes for present entries moved to other folios with the recorded fields, with the counts of a pass from scratch', () => {
    const s = machine();
    swapPages(s);
    expect(checkRmapReference(s.ctx)).toEqual([]);
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    expect(s.ctx.rmapCheck?.sound).toBe(true);
    const replayed = recordedCounts(s);
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    s.ctx.rmapCheck!.sound = false;
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    expect(recordedCounts(s)).toEqual(replayed);
  });

  it("reports a present entry moved to a folio whose index is not the slot's", () => {
    const s = machine();
    swapPages(s, false);
    const found = checkRmap(s.ctx, { incremental: true });
    expect(found.join('\n')).toMatch(/page index/);
    expect(found).toEqual(checkRmapReference(s.ctx));
  });

  it('reports a writable entry moved to an anonymous page that is not PageAnonExclusive', () => {
    const s = machine();
    swapPages(s);
    const b = ptePfn(s.other);
    s.mem.flags[b] = s.mem.flags[b]! & ~(1 << PG_anon_exclusive);
    const found = checkRmap(s.ctx, { incremental: true });
    expect(found.join('\n')).toMatch(/writable but not PageAnonExclusive/);
    expect(found).toEqual(checkRmapReference(s.ctx));
  });

  it("passes the migration entry's page back (remove_migration_ptes to the same folio)", () => {
    const s = machine();
    unmapForMigration(s);
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    s.table.set(s.table.base / PAGE_SIZE + s.slot, s.pte);
    s.mem.mapcount[s.pfn] = s.mem.mapcount[s.pfn]! + 1;
    s.mem.totalMapcount[s.pfn] = s.mem.totalMapcount[s.pfn]! + 1;
    s.mem.flags[s.pfn] = s.mem.flags[s.pfn]! & ~(1 << PG_locked);
    expect(checkRmapReference(s.ctx)).toEqual([]);
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    expect(s.ctx.rmapCheck?.sound).toBe(true);
    const replayed = recordedCounts(s);
    s.ctx.rmapCheck!.sound = false;
    expect(checkRmap(s.ctx, { incremental: true })).toEqual([]);
    expect(recordedCounts(s)).toEqual(replayed);
  });
});
