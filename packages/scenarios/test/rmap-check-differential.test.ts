import {
  FRAME_HEAD,
  FRAME_TAIL,
  folioClearFlag,
  folioSetFlag,
  NR_PAGEFLAGS,
  PG_anon_exclusive,
  PG_head,
  pageClearFlag,
  pageSetFlag,
} from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import type { Kernel } from '@mmsim/kernel';
import { isMigrationEntry, ptePfn } from '@mmsim/rmap';
import {
  checkRmap,
  checkRmapReference,
  IncrementalRmapState,
  type PageTable,
  type RmapState,
  rmapStateOf,
} from '@mmsim/rmap/internal';
import { describe, expect, it } from 'vitest';
import { builtinScenario, runScenario, type Scenario } from '../src/index.js';
import { outcome, prng } from './check-differential.js';
import { concurrentOpsScenario } from './concurrent-ops.js';

/*
 * `checkRmap` (the rmap-consistent invariant) against `checkRmapReference`, the first
 * implementation it replaced: at every step of random schedules of several scenarios the
 * two must return the same problems in the same order, or throw the same error. The
 * incremental pass (`incremental: true`, run before them at every step, so it replays what
 * the pass one step before recorded) must return what the full `checkRmap` returns. Legal
 * states alone would compare empty lists, so at every few steps the test also corrupts
 * one thing the check reads (a mapcount, a refcount, a flag, a PTE, an rss counter, a VMA,
 * an anon_vma chain, a pin, a page-cache slot...), compares the two checks on the broken
 * state, and puts the value back before the schedule goes on. A corruption of a page table
 * or of a folio's counts, frame, mapping or index is marked as the writers mark theirs (`PageTable.set`'s
 * dirty mark, the memmap's `rmapWritten`), since the incremental pass leaves raw writes to
 * the full check (rmap-check-incremental.test.ts shows that it does); a flag is changed
 * through the flag setters themselves, which mark only the flags the check reads.
 */

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** One corruption of the state `checkRmap` reads, and how to undo it. */
type Corruption = (ctx: RmapState, pick: (n: number) => number) => (() => void) | null;

function pickOf<T>(items: Iterable<T>, pick: (n: number) => number): T | undefined {
  const all = [...items];
  return all.length === 0 ? undefined : all[pick(all.length)];
}

/** A typed-array slot set to `value` until the undo. */
function poke(arr: { [i: number]: number }, i: number, value: number): () => void {
  const old = arr[i]!;
  arr[i] = value;
  return () => {
    arr[i] = old;
  };
}

/**
 * `poke` of a memmap count, frame, mapping or index field of frame `pfn`, marked as the
 * folio writers mark theirs (and so is the undo): the incremental check visits only the
 * folios whose counts or frames were written through them (`rmapWritten`) or whose mappings
 * changed, and compares those fields only for marked frames.
 */
function pokeFrame(
  ctx: RmapState,
  arr: { [i: number]: number },
  i: number,
  value: number,
  pfn: number,
): () => void {
  const marks = memmapOf(ctx.mem).rmapWritten;
  marks[pfn] = 1;
  const undo = poke(arr, i, value);
  return () => {
    undo();
    marks[pfn] = 1;
  };
}

/**
 * Flips flag `bit` of folio `head` through the flag setters (`folioSetFlag`,
 * `folioClearFlag`), which mark the frame for the rmap check when the flag is one its
 * verdict reads (and not otherwise), and flips it back the same way. PG_head and the bits
 * past NR_PAGEFLAGS, which only the allocator writes (marking what it makes), are poked
 * and marked.
 */
function flipFlag(ctx: RmapState, head: number, bit: number): () => void {
  const m = memmapOf(ctx.mem);
  if (bit === PG_head || bit >= NR_PAGEFLAGS) {
    return pokeFrame(ctx, m.flags, head, m.flags[head]! ^ (1 << bit), head);
  }
  const set = (m.flags[head]! & (1 << bit)) === 0;
  const flip = (on: boolean): void => {
    if (on) folioSetFlag(ctx.mem, head, bit);
    else folioClearFlag(ctx.mem, head, bit);
  };
  flip(set);
  return () => flip(!set);
}

/** A live folio head (the zero page excepted), or -1. */
function someHead(ctx: RmapState, pick: (n: number) => number, mapped: boolean): number {
  const m = memmapOf(ctx.mem);
  const heads: number[] = [];
  for (let pfn = 0; pfn < m.maxPfn; pfn++) {
    if (m.state[pfn] !== 3 || pfn === ctx.mem.zeroPfn) continue;
    if (!mapped || m.totalMapcount[pfn]! + m.entireMapcount[pfn]! > 0) heads.push(pfn);
  }
  return heads.length === 0 ? -1 : heads[pick(heads.length)]!;
}

/** The live folio some migration entry points at, or -1. */
function migrationEntryFolio(ctx: RmapState, pick: (n: number) => number): number {
  const m = memmapOf(ctx.mem);
  const folios: number[] = [];
  for (const mm of ctx.mms) {
    for (const table of mm.pageTables.values()) {
      for (let i = 0; i < table.ptes.length; i++) {
        const raw = table.ptes[i]!;
        if (!isMigrationEntry(raw)) continue;
        const pfn = ptePfn(raw);
        const s = m.state[pfn];
        const folio = s === FRAME_HEAD ? pfn : s === FRAME_TAIL ? m.headOf[pfn]! : -1;
        if (folio >= 0 && m.state[folio] === FRAME_HEAD) folios.push(folio);
      }
    }
  }
  return folios.length === 0 ? -1 : folios[pick(folios.length)]!;
}

/** Some page-table slot in use: [table's entries, index, table]. */
function someEntry(ctx: RmapState, pick: (n: number) => number) {
  const slots: [Uint32Array, number, PageTable][] = [];
  for (const mm of ctx.mms) {
    for (const table of mm.pageTables.values()) {
      for (let i = 0; i < table.ptes.length; i++)
        if (table.ptes[i] !== 0) slots.push([table.ptes, i, table]);
    }
  }
  return slots.length === 0 ? undefined : slots[pick(slots.length)];
}

/**
 * `poke` of a page-table slot, marked as `PageTable.set` marks its writes (and so is the
 * undo): the incremental check reads again only the slot ranges written through `set`.
 */
function pokePte(table: PageTable, i: number, value: number): () => void {
  table.markWritten(i);
  const undo = poke(table.ptes, i, value);
  return () => {
    undo();
    table.markWritten(i);
  };
}

const CORRUPTIONS: readonly Corruption[] = [
  // Mapcounts, entire mapcounts, refcounts.
  (ctx, pick) => {
    const head = someHead(ctx, pick, true);
    if (head < 0) return null;
    const m = memmapOf(ctx.mem);
    const p = head + pick(1 << m.order[head]!);
    return pokeFrame(ctx, m.mapcount, p, m.mapcount[p]! + (pick(2) === 0 ? 1 : -1), head);
  },
  (ctx, pick) => {
    const head = someHead(ctx, pick, false);
    if (head < 0) return null;
    const m = memmapOf(ctx.mem);
    return pokeFrame(ctx, m.entireMapcount, head, m.entireMapcount[head]! + 1, head);
  },
  (ctx, pick) => {
    const head = someHead(ctx, pick, pick(2) === 0);
    if (head < 0) return null;
    const m = memmapOf(ctx.mem);
    const k = pick(3);
    const total = k === 0 ? m.totalMapcount[head]! + 1 : k === 1 ? 0 : -1;
    return pokeFrame(ctx, m.totalMapcount, head, total, head);
  },
  (ctx, pick) => {
    const head = someHead(ctx, pick, pick(2) === 0);
    if (head < 0) return null;
    const m = memmapOf(ctx.mem);
    return pokeFrame(ctx, m.refcount, head, m.refcount[head]! - 1 - pick(3), head);
  },
  // Flags: any flag of a mapped folio through the setters (the check reads PG_locked,
  // PG_slab, PG_swapbacked, PG_swapcache and PG_anon_exclusive), and the folio's index and
  // mapping kind.
  (ctx, pick) => {
    const head = someHead(ctx, pick, true);
    if (head < 0) return null;
    return flipFlag(ctx, head, pick(32));
  },
  (ctx, pick) => {
    const head = someHead(ctx, pick, true);
    if (head < 0) return null;
    const m = memmapOf(ctx.mem);
    return pokeFrame(ctx, m.index, head, m.index[head]! + 1, head);
  },
  (ctx, pick) => {
    const head = someHead(ctx, pick, true);
    if (head < 0) return null;
    const m = memmapOf(ctx.mem);
    return pokeFrame(ctx, m.mappingKind, head, pick(4), head);
  },
  // The folio of a migration entry (no mapcount: the two above pass it by): a flag
  // (PG_locked half the time) or, marked, its index.
  (ctx, pick) => {
    const folio = migrationEntryFolio(ctx, pick);
    if (folio < 0) return null;
    const m = memmapOf(ctx.mem);
    if (pick(3) === 0) return pokeFrame(ctx, m.index, folio, m.index[folio]! + 1, folio);
    return flipFlag(ctx, folio, pick(2) === 0 ? 0 : pick(32));
  },
  // PageAnonExclusive of one page of a mapped folio, a tail page as well, through
  // `pageClearFlag` / `pageSetFlag` (which mark that page, not the head).
  (ctx, pick) => {
    const head = someHead(ctx, pick, true);
    if (head < 0) return null;
    const m = memmapOf(ctx.mem);
    const p = head + pick(1 << m.order[head]!);
    const had = (m.flags[p]! & (1 << PG_anon_exclusive)) !== 0;
    if (had) pageClearFlag(ctx.mem, p, PG_anon_exclusive);
    else pageSetFlag(ctx.mem, p, PG_anon_exclusive);
    return () => {
      if (had) pageSetFlag(ctx.mem, p, PG_anon_exclusive);
      else pageClearFlag(ctx.mem, p, PG_anon_exclusive);
    };
  },
  // Frame states: a frame that stops or starts being a folio, a tail naming itself.
  (ctx, pick) => {
    const m = memmapOf(ctx.mem);
    const pfn = pick(m.maxPfn);
    return pokeFrame(ctx, m.state, pfn, 1 + pick(6), pfn);
  },
  (ctx, pick) => {
    const m = memmapOf(ctx.mem);
    const pfn = pick(m.maxPfn);
    return pokeFrame(ctx, m.headOf, pfn, pick(3) === 0 ? pfn : pick(m.maxPfn), pfn);
  },
  // Page tables: an entry changed, copied elsewhere, cleared; the use count.
  (ctx, pick) => {
    const slot = someEntry(ctx, pick);
    if (slot === undefined) return null;
    return pokePte(slot[2], slot[1], (slot[0][slot[1]]! ^ (1 << pick(32))) >>> 0);
  },
  (ctx, pick) => {
    const from = someEntry(ctx, pick);
    const mm = pickOf(ctx.mms, pick);
    const table = mm === undefined ? undefined : pickOf(mm.pageTables.values(), pick);
    if (from === undefined || table === undefined) return null;
    return pokePte(table, pick(table.ptes.length), from[0][from[1]]!);
  },
  (ctx, pick) => {
    const slot = someEntry(ctx, pick);
    return slot === undefined ? null : pokePte(slot[2], slot[1], 0);
  },
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    const table = mm === undefined ? undefined : pickOf(mm.pageTables.values(), pick);
    if (table === undefined) return null;
    const t = table as Writable<typeof table>;
    const old = t.used;
    t.used += 1;
    return () => {
      t.used = old;
    };
  },
  // A huge PMD entry where a page table is, or at a new index.
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    const from = someEntry(ctx, pick);
    if (mm === undefined || from === undefined) return null;
    const idx = pickOf(mm.pageTables.keys(), pick) ?? 0;
    const key = pick(2) === 0 ? idx : idx + 1;
    const had = mm.pmds.has(key);
    const old = mm.pmds.get(key);
    mm.pmds.set(key, from[0][from[1]]!);
    return () => {
      if (had) mm.pmds.set(key, old!);
      else mm.pmds.delete(key);
    };
  },
  // rss counters.
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    if (mm === undefined) return null;
    const i = pick(mm.rss.length);
    return poke(mm.rss, i, mm.rss[i]! + 1);
  },
  // VMAs: bounds, an anon_vma chain link lost, anon_vma cleared.
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    const vma = mm === undefined ? undefined : pickOf(mm.vmas, pick);
    if (vma === undefined) return null;
    const v = vma as Writable<typeof vma>;
    const [start, end] = [v.start, v.end];
    const k = pick(3);
    if (k === 0) v.start -= 4096 * (1 + pick(4));
    else if (k === 1) v.end += 4096 * (1 + pick(4));
    else v.end = v.start + 4096 * pick(2);
    return () => {
      v.start = start;
      v.end = end;
    };
  },
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    const vma = mm === undefined ? undefined : pickOf(mm.vmas, pick);
    if (vma === undefined || vma.anonVmaChain.length === 0) return null;
    const i = pick(vma.anonVmaChain.length);
    const [link] = vma.anonVmaChain.splice(i, 1);
    return () => {
      vma.anonVmaChain.splice(i, 0, link!);
    };
  },
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    const vma = mm === undefined ? undefined : pickOf(mm.vmas, pick);
    if (vma === undefined) return null;
    const old = vma.anonVma;
    vma.anonVma = null;
    return () => {
      vma.anonVma = old;
    };
  },
  // anon_vmas: num_active_vmas, refcount.
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    const vma = mm === undefined ? undefined : pickOf(mm.vmas, pick);
    const av = vma?.anonVma ?? null;
    if (av === null) return null;
    const [n, ref] = [av.numActiveVmas, av.refcount];
    if (pick(2) === 0) av.numActiveVmas += 1;
    else av.refcount = 0;
    return () => {
      av.numActiveVmas = n;
      av.refcount = ref;
    };
  },
  // Pins, and page-cache slots.
  (ctx, pick) => {
    const mm = pickOf(ctx.mms, pick);
    const head = someHead(ctx, pick, false);
    if (mm === undefined || head < 0) return null;
    const had = mm.pins.get(head);
    mm.pins.set(head, (had ?? 0) + 1);
    return () => {
      if (had === undefined) mm.pins.delete(head);
      else mm.pins.set(head, had);
    };
  },
  (ctx, pick) => {
    const as = pickOf(ctx.files, pick);
    const head = someHead(ctx, pick, false);
    if (as === undefined || head < 0) return null;
    const pages = as.pages as Map<number, number>;
    const index = pickOf(pages.keys(), pick) ?? pick(8);
    const had = pages.get(index);
    if (pick(2) === 0) pages.delete(index);
    else pages.set(index, head);
    return () => {
      if (had === undefined) pages.delete(index);
      else pages.set(index, had);
    };
  },
];

interface DiffStats {
  checks: number;
  corrupted: number;
  reported: number;
  /** Incremental passes that followed a sound one (visiting only the changed folios). */
  followed: number;
  /** Table records put back in the pool (their table gone) and records taken from it. */
  released: number;
  reused: number;
  mismatches: string[];
}

/**
 * Runs one schedule of `scenario`, comparing the two checks after every step (and at the
 * end, quiescent), with a corruption every `every`-th step.
 */
function compareSchedule(scenario: Scenario, seed: number, every: number, stats: DiffStats) {
  let kernel: Kernel | null = null;
  const wrapped: Scenario = {
    ...scenario,
    build(k) {
      kernel = k;
      return scenario.build(k);
    },
  };
  const pick = (
    (r) => (n: number) =>
      Math.floor(r() * n)
  )(prng(seed * 7919 + 17));
  let step = 0;
  const compare = (ctx: RmapState, quiescent: boolean, what: string): void => {
    // The incremental pass first: it reads what the last one recorded, before the full
    // passes run (they leave its records alone).
    // A machine with no page table of 16 entries gets the full check for an incremental
    // one (nothing to record); a state made for it here makes every pass incremental.
    if (ctx.rmapCheck === null) ctx.rmapCheck = new IncrementalRmapState();
    const before = ctx.rmapCheck;
    const followed = before.sound;
    const pooled = [...before.pool];
    const incremental = outcome(() => checkRmap(ctx, { quiescent, incremental: true }));
    const after = ctx.rmapCheck!;
    if (followed && after.sound) {
      stats.followed++;
      // The records a pass that followed a sound one took from the pool and put in it.
      let reused = 0;
      for (const rec of pooled) if (after.records.includes(rec)) reused++;
      stats.reused += reused;
      stats.released += after.pool.length - pooled.length + reused;
    }
    const fast = outcome(() => checkRmap(ctx, { quiescent }));
    const reference = outcome(() => checkRmapReference(ctx, { quiescent }));
    stats.checks++;
    if ('threw' in fast || fast.problems.length > 0) stats.reported++;
    if (JSON.stringify(fast) !== JSON.stringify(reference) && stats.mismatches.length < 5) {
      stats.mismatches.push(
        `${scenario.name} seed ${seed} step ${step} ${what}: ${JSON.stringify(fast).slice(0, 400)} vs ${JSON.stringify(reference).slice(0, 400)}`,
      );
    }
    if (JSON.stringify(incremental) !== JSON.stringify(fast) && stats.mismatches.length < 5) {
      stats.mismatches.push(
        `${scenario.name} seed ${seed} step ${step} ${what}, incremental: ${JSON.stringify(incremental).slice(0, 400)} vs ${JSON.stringify(fast).slice(0, 400)}`,
      );
    }
  };
  const run = runScenario(wrapped, {
    variant: 'v6.3',
    strategy: 'random',
    seed,
    kernelInvariants: [],
    onStep: () => {
      step++;
      const ctx = rmapStateOf(kernel!.vm);
      compare(ctx, false, 'as is');
      if (step % every !== 0) return;
      const which = pick(CORRUPTIONS.length);
      const undo = CORRUPTIONS[which]!(ctx, pick);
      if (undo === null) return;
      stats.corrupted++;
      try {
        compare(ctx, pick(4) === 0, `corruption ${which}`);
      } finally {
        undo();
      }
    },
  });
  // A run that ended early (a model error, a step limit) would leave most steps unchecked.
  expect(run.result?.status).toBe('completed');
  compare(rmapStateOf(kernel!.vm), true, 'end');
}

/** Name, scenario, schedules, and whether its tables go away (records recycled). */
const CASES: readonly [string, () => Scenario, number, boolean?][] = [
  ['pmbench-migrate', () => builtinScenario('pmbench-migrate', { pages: 32, roundTrips: 1 }), 4],
  [
    'migrate-under-writes',
    () => builtinScenario('migrate-under-writes', { accesses: 6, migrations: 2 }),
    4,
  ],
  ['numa-balancing', () => builtinScenario('numa-balancing', { pages: 16, passes: 1 }), 4],
  ['fork, munmap, truncate', concurrentOpsScenario, 3, true],
  ['ksm-migrate', () => builtinScenario('ksm-migrate', {}), 3],
  ['hugetlb-mapped-migrate', () => builtinScenario('hugetlb-mapped-migrate', {}), 3],
  ['shmem-thp-migrate', () => builtinScenario('shmem-thp-migrate', {}), 3],
];

describe('checkRmap reports what checkRmapReference reports, at every step', () => {
  for (const [name, make, schedules, recycles = false] of CASES) {
    it(`${name}: ${schedules} random schedules, legal and corrupted states`, {
      timeout: 240_000,
    }, () => {
      const stats: DiffStats = {
        checks: 0,
        corrupted: 0,
        reported: 0,
        followed: 0,
        released: 0,
        reused: 0,
        mismatches: [],
      };
      for (let seed = 1; seed <= schedules; seed++) compareSchedule(make(), seed, 5, stats);
      expect(stats.mismatches).toEqual([]);
      // The comparison saw broken states, and the checks found problems in them.
      expect(stats.corrupted).toBeGreaterThan(10);
      expect(stats.reported).toBeGreaterThan(stats.corrupted / 4);
      // Most incremental passes followed a sound one, visiting only the changed folios;
      // where tables go (munmap, exit), their records went to the pool and served again.
      expect(stats.followed).toBeGreaterThan(stats.checks / 2);
      if (recycles) {
        expect(stats.released).toBeGreaterThan(0);
        expect(stats.reused).toBeGreaterThan(0);
      }
    });
  }
});
