import {
  type Folio,
  FolioList,
  folioClearFlag,
  folioRefCount,
  folioRefFreeze,
  folioRefUnfreeze,
  folioSetFlag,
  folioTestClearFlag,
  LRU_MARK_SHIFT,
  PG_active,
  PG_lru,
  PG_mlocked,
  PG_unevictable,
} from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { NodeStat } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { checkLru, lruStateOf, reportLru } from '../src/internal.js';
import { LRU_INACTIVE_ANON } from '../src/lru-list.js';
import { type LruState, WHERE_ISOLATING, WHERE_RELEASING } from '../src/lru-state.js';
import {
  anonFolio,
  createLruMachine,
  fileFolio,
  type LruMachine,
  onCpu,
  runScript,
} from '../src/testing/index.js';

/*
 * The incremental step check (`checkLru(s, { incremental: true })`): after a sound pass it
 * tests again only the frames the writers marked in the memmap's `lruWritten`. A change made
 * through a writer is found at the same step, with the whole check's problems; a write
 * straight into the arrays marks nothing and is left to a whole pass (the end check).
 */

interface Listed {
  readonly m: LruMachine;
  readonly s: LruState;
  /** Folios on the lists of node 0 and 1. */
  readonly listed: Folio[];
}

/** Anon and file folios (one of order 2) on both nodes' lists. */
function listed(): Listed {
  const m = createLruMachine();
  const folios = [
    anonFolio(m.mem, 0),
    anonFolio(m.mem, 0, 2),
    fileFolio(m.mem, 0),
    fileFolio(m.mem, 1),
    anonFolio(m.mem, 1),
  ];
  runScript(m, function* () {
    yield* onCpu(m.rt, 0, function* () {
      for (const f of folios) yield* m.lru.folioAddLru(f);
      yield* m.lru.lruAddDrain();
    });
  });
  return { m, s: lruStateOf(m.lru.view), listed: folios };
}

const INCREMENTAL = { scanMemory: false, incremental: true } as const;

/** A machine whose last pass was sound and recorded: the next one is incremental. */
function recorded(): Listed {
  const r = listed();
  expect(checkLru(r.s, INCREMENTAL)).toEqual([]);
  // A test machine holds few folios for its memory: record and replay all the same.
  r.s.lruCheck!.framesPerListedFolio = Number.POSITIVE_INFINITY;
  expect(checkLru(r.s, INCREMENTAL)).toEqual([]);
  expect(r.s.lruCheck!.sound).toBe(true);
  return r;
}

function wholeReport(r: Listed): string[] {
  return reportLru(r.s, { scanMemory: false });
}

describe('the incremental LRU check', () => {
  test('an incremental pass follows a sound one, and nothing changed means nothing found', () => {
    const r = recorded();
    expect(checkLru(r.s, INCREMENTAL)).toEqual([]);
    expect(r.s.lruCheck!.sound).toBe(true);
  });

  const throughWriters: Array<[string, (r: Listed) => void, RegExp]> = [
    [
      'PG_lru cleared by the flag setter outside an isolation',
      (r) => folioClearFlag(r.m.mem, r.listed[0]!, PG_lru),
      /on the list with PG_lru clear/,
    ],
    [
      'PG_active set on a folio of an inactive list',
      (r) => folioSetFlag(r.m.mem, r.listed[1]!, PG_active),
      /has the flags of active_anon/,
    ],
    [
      'PG_unevictable set on a file folio',
      (r) => folioSetFlag(r.m.mem, r.listed[3]!, PG_unevictable),
      /has the flags of unevictable/,
    ],
    [
      'PG_mlocked set with no mlock_fbatch holding the folio',
      (r) => folioSetFlag(r.m.mem, r.listed[2]!, PG_mlocked),
      /mlocked but not on the unevictable list/,
    ],
    [
      'the refcount of a listed folio frozen at 0 outside its release',
      (r) => {
        const f = r.listed[4]!;
        expect(folioRefFreeze(r.m.mem, f, folioRefCount(r.m.mem, f))).toBe(true);
      },
      /has refcount 0/,
    ],
    [
      'a listed folio marked as isolating with PG_lru still set',
      (r) => {
        r.s.where[r.listed[0]!] = WHERE_ISOLATING;
        r.s.lruWritten[r.listed[0]! >>> LRU_MARK_SHIFT] = 1;
      },
      /being isolated but still has PG_lru/,
    ],
    [
      'an order-2 folio moved onto another list without its pages',
      (r) => {
        const f = r.listed[1]!;
        const lv = r.s.lruvecs[0]!;
        lv.lists[LRU_INACTIVE_ANON]!.del(f);
        lv.lists[LRU_INACTIVE_ANON + 1]!.add(f);
      },
      /its folios have 4 pages but its size says 0/,
    ],
    [
      'a listed folio moved off the LRU onto a private list',
      (r) => {
        const f = r.listed[3]!;
        r.s.lruvecs[1]!.lists[2]!.del(f);
        new FolioList(r.m.mem).add(f);
      },
      /its folios have 0 pages but its size says 1/,
    ],
    [
      'a list size moved with its vmstat item (update_lru_size) and no folio',
      (r) => r.s.lruvecs[1]!.updateLruSize(LRU_INACTIVE_ANON, 1),
      /its folios have 1 pages but its size says 2/,
    ],
    [
      'a vmstat LRU item moved alone',
      (r) => r.s.vmstat.modNodePageState(0, NodeStat.NR_INACTIVE_ANON + 2, 1),
      /size 1 but vmstat nr_inactive_file is 2/,
    ],
  ];

  for (const [what, corrupt, message] of throughWriters) {
    test(`finds at the same step: ${what}`, () => {
      const r = recorded();
      corrupt(r);
      const report = wholeReport(r);
      expect(report.some((p) => message.test(p))).toBe(true);
      expect(checkLru(r.s, INCREMENTAL)).toEqual(report);
      // A failing pass keeps nothing: the next one walks the lists whole.
      expect(r.s.lruCheck!.sound).toBe(false);
    });
  }

  test('a folio released through a frozen refcount is legal, and so is its unfreezing', () => {
    const r = recorded();
    const f = r.listed[4]!;
    const refs = folioRefCount(r.m.mem, f);
    expect(folioRefFreeze(r.m.mem, f, refs)).toBe(true);
    r.s.where[f] = WHERE_RELEASING;
    r.s.lruWritten[f >>> LRU_MARK_SHIFT] = 1;
    expect(checkLru(r.s, INCREMENTAL)).toEqual([]);
    folioRefUnfreeze(r.m.mem, f, refs);
    r.s.where[f] = 0;
    r.s.lruWritten[f >>> LRU_MARK_SHIFT] = 1;
    expect(checkLru(r.s, INCREMENTAL)).toEqual([]);
    expect(r.s.lruCheck!.sound).toBe(true);
  });

  test('an mlock_fbatch drain that lets go of a folio an isolator holds: both passes accept the folio left behind', () => {
    const m = createLruMachine();
    const s = lruStateOf(m.lru.view);
    const { lru, mem, rt } = m;
    const folios = [anonFolio(mem, 0), anonFolio(mem, 0), fileFolio(mem, 1)];
    const f = folios[0]!;
    let report: string[] = [];
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        for (const g of folios) yield* lru.folioAddLru(g);
        yield* lru.lruAddDrain();
        expect(checkLru(s, INCREMENTAL)).toEqual([]);
        s.lruCheck!.framesPerListedFolio = Number.POSITIVE_INFINITY;
        lru.mlockFolio(f);
        // An isolator won PG_lru (as folio_isolate_lru does), and has not unlinked it yet.
        expect(folioTestClearFlag(mem, f, PG_lru)).toBe(true);
        s.where[f] = WHERE_ISOLATING;
        s.lruWritten[f >>> LRU_MARK_SHIFT] = 1;
        // Mlocked on the inactive list, held by the mlock batch: sound, and recorded.
        expect(checkLru(s, INCREMENTAL)).toEqual([]);
        expect(checkLru(s, INCREMENTAL)).toEqual([]);
        expect(s.lruCheck!.sound).toBe(true);
        // The drain skips a folio without PG_lru and lets go of its entry.
        yield* lru.mlockDrainLocal();
        report = reportLru(s, { scanMemory: false });
        expect(checkLru(s, INCREMENTAL)).toEqual(report);
      });
    });
    // The drain left it where it was, mlocked, and no batch holds it any more: legal while
    // its PG_lru is clear (6.3's __mlock_folio leaves it to the isolator, whose putback files
    // it as unevictable), for the whole check and the incremental pass alike.
    expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_INACTIVE_ANON });
    expect(lru.view.mlockBatchFolios(0)).toEqual([]);
    expect(report).toEqual([]);
  });

  test('a write straight into the memmap marks nothing: only a whole pass sees it', () => {
    const r = recorded();
    memmapOf(r.m.mem).flags[r.listed[0]!]! &= ~(1 << PG_lru);
    expect(checkLru(r.s, INCREMENTAL)).toEqual([]);
    const report = wholeReport(r);
    expect(report).toEqual([
      `node 0 inactive_anon: folio ${r.listed[0]} is on the list with PG_lru clear`,
    ]);
    // The end check (scanMemory) and a step check without `incremental` are whole passes.
    expect(checkLru(r.s, { scanMemory: false })).toEqual(report);
    expect(checkLru(r.s, INCREMENTAL)).toEqual(report);
  });

  test('lists with few folios for the memory are walked whole and record nothing', () => {
    const r = listed();
    expect(checkLru(r.s, INCREMENTAL)).toEqual([]);
    expect(r.s.lruCheck!.sound).toBe(false);
    memmapOf(r.m.mem).flags[r.listed[0]!]! &= ~(1 << PG_lru);
    expect(checkLru(r.s, INCREMENTAL)).toEqual(wholeReport(r));
    expect(wholeReport(r)).toHaveLength(1);
  });
});
