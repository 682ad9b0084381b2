import {
  type Folio,
  FolioList,
  folioClearFlag,
  folioRefCount,
  folioRefFreeze,
  folioRefUnfreeze,
  folioSetFlag,
  folioTestFlag,
  LRU_MARK_SHIFT,
  PG_active,
  PG_lru,
  PG_mlocked,
  PG_swapbacked,
  PG_unevictable,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { checkLru, type LruState, lruStateOf, reportLru } from '@mmsim/lru/internal';
import { NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, runScenario, type Scenario } from '../src/index.js';
import { outcome, prng } from './check-differential.js';
import { concurrentOpsScenario } from './concurrent-ops.js';

/*
 * The LRU step check's incremental pass (`checkLru(s, { incremental: true })`, the one
 * lru-consistent runs on strided steps) against the whole check (`reportLru`, which keeps
 * no state, so the incremental passes accumulate what changed over several steps, as they
 * do in an exploration): on random schedules of several scenarios the two must return the
 * same problems, checked after a random third of the steps. Legal states alone would
 * compare empty lists, so every few steps the test also changes one thing the check reads,
 * through the model's writers (the flag setters, `folioRefFreeze`, the folio lists, the
 * `where` mark with its `lruWritten` store, the list sizes, vmstat, the batches), compares
 * on the broken state, and puts it back the same way before the schedule goes on.
 */

/** One change of what the LRU check reads, made through a writer, and how to undo it. */
type Corruption = (s: LruState, pick: (n: number) => number) => (() => void) | null;

/** A folio on some LRU list, with its list: [folio, nid, lru], or undefined. */
function someListed(s: LruState, pick: (n: number) => number): [Folio, number, number] | undefined {
  const all: [Folio, number, number][] = [];
  for (const lv of s.lruvecs) {
    lv.lists.forEach((list, lru) => {
      for (const f of list) all.push([f, lv.nid, lru]);
    });
  }
  return all.length === 0 ? undefined : all[pick(all.length)];
}

/** Flips flag `flag` of `folio` through the setters (which mark it), and back. */
function flipFlag(s: LruState, folio: Folio, flag: number): () => void {
  const was = folioTestFlag(s.mem, folio, flag);
  if (was) folioClearFlag(s.mem, folio, flag);
  else folioSetFlag(s.mem, folio, flag);
  return () => {
    if (was) folioSetFlag(s.mem, folio, flag);
    else folioClearFlag(s.mem, folio, flag);
  };
}

/** Sets the LRU's `where` mark of `folio` as its writers do (with the `lruWritten` store). */
function setWhere(s: LruState, folio: Folio, w: number): () => void {
  const old = s.where[folio]!;
  s.where[folio] = w;
  s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  return () => {
    s.where[folio] = old;
    s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  };
}

const FLAGS = [PG_lru, PG_active, PG_swapbacked, PG_unevictable, PG_mlocked];

const CORRUPTIONS: readonly Corruption[] = [
  // One of the five LRU flags of a listed folio.
  (s, pick) => {
    const at = someListed(s, pick);
    return at === undefined ? null : flipFlag(s, at[0], FLAGS[pick(FLAGS.length)]!);
  },
  // A listed folio's refcount frozen at 0 (legal only while it is being released).
  (s, pick) => {
    const at = someListed(s, pick);
    if (at === undefined) return null;
    const folio = at[0];
    const refs = folioRefCount(s.mem, folio);
    if (refs === 0 || !folioRefFreeze(s.mem, folio, refs)) return null;
    return () => folioRefUnfreeze(s.mem, folio, refs);
  },
  // A listed folio's `where` mark.
  (s, pick) => {
    const at = someListed(s, pick);
    return at === undefined ? null : setWhere(s, at[0], 1 + pick(3));
  },
  // A listed folio moved to another LRU list (or off the LRU) without its size.
  (s, pick) => {
    const at = someListed(s, pick);
    if (at === undefined) return null;
    const [folio, nid, lru] = at;
    const from = s.lruvecs[nid]!.lists[lru]!;
    const lv = s.lruvecs[pick(s.lruvecs.length)]!;
    const to = pick(6) === 0 ? new FolioList(s.mem) : lv.lists[pick(lv.lists.length)]!;
    if (to === from) return null;
    from.del(folio);
    to.add(folio);
    return () => {
      to.del(folio);
      from.add(folio);
    };
  },
  // A list's size moved with its vmstat item (`update_lru_size`), or vmstat alone.
  (s, pick) => {
    const lv = s.lruvecs[pick(s.lruvecs.length)]!;
    const lru = pick(lv.lists.length);
    const by = pick(2) === 0 ? 1 : -1;
    if (pick(2) === 0) {
      lv.updateLruSize(lru, by);
      return () => lv.updateLruSize(lru, -by);
    }
    s.vmstat.modNodePageState(lv.nid, NodeStat.NR_INACTIVE_ANON + lru, by);
    return () => s.vmstat.modNodePageState(lv.nid, NodeStat.NR_INACTIVE_ANON + lru, -by);
  },
  // A listed folio queued in an lru_add batch as well.
  (s, pick) => {
    const at = someListed(s, pick);
    const b = s.batches[pick(s.batches.length)]!;
    if (at === undefined || b.nr >= b.folios.length) return null;
    b.folios[b.nr++] = at[0];
    return () => {
      b.nr--;
    };
  },
  // lru_disable_count below 0.
  (s) => {
    const old = s.disableCount;
    s.disableCount = -1;
    return () => {
      s.disableCount = old;
    };
  },
];

interface DiffStats {
  checks: number;
  corrupted: number;
  reported: number;
  /** Incremental passes that followed a sound one (visiting only the marked folios). */
  followed: number;
  mismatches: string[];
}

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
  const compare = (s: LruState, what: string, legal: boolean): void => {
    const followed = s.lruCheck?.sound ?? false;
    const incremental = outcome(() => checkLru(s, { scanMemory: false, incremental: true }));
    const whole = outcome(() => reportLru(s, { scanMemory: false }));
    stats.checks++;
    if (followed) stats.followed++;
    if ('threw' in whole || whole.problems.length > 0) stats.reported++;
    if (JSON.stringify(incremental) !== JSON.stringify(whole) && stats.mismatches.length < 5) {
      stats.mismatches.push(
        `${scenario.name} seed ${seed} step ${step} ${what}: ${JSON.stringify(incremental).slice(0, 400)} vs ${JSON.stringify(whole).slice(0, 400)}`,
      );
    }
    // A state the model reached by itself is legal: neither pass may reject it.
    if (legal && JSON.stringify(whole) !== '{"problems":[]}' && stats.mismatches.length < 5) {
      stats.mismatches.push(`${scenario.name} seed ${seed} step ${step}: ${JSON.stringify(whole)}`);
    }
  };
  const run = runScenario(wrapped, {
    variant: 'v6.3',
    strategy: 'random',
    seed,
    kernelInvariants: [],
    onStep: () => {
      step++;
      const s = lruStateOf(kernel!.lruView);
      if (s.lruCheck === null) {
        // Every step check incremental, however few folios the lists hold (a machine
        // with few gets whole passes otherwise: `FRAMES_PER_LISTED_FOLIO`).
        checkLru(s, { scanMemory: false });
        s.lruCheck!.framesPerListedFolio = Number.POSITIVE_INFINITY;
      }
      if (step % every !== 0) {
        // Some steps unchecked: an incremental pass takes what changed over several.
        if (pick(3) === 0) compare(s, 'as is', true);
        return;
      }
      const which = pick(CORRUPTIONS.length);
      const undo = CORRUPTIONS[which]!(s, pick);
      if (undo === null) return;
      stats.corrupted++;
      try {
        compare(s, `corruption ${which}`, false);
      } finally {
        undo();
      }
    },
  });
  // A run that ended early (a model error, a step limit) would leave most steps unchecked.
  expect(run.result?.status).toBe('completed');
  compare(lruStateOf(kernel!.lruView), 'end', true);
}

const CASES: readonly [string, () => Scenario, number][] = [
  ['pmbench-migrate', () => builtinScenario('pmbench-migrate', { pages: 32, roundTrips: 1 }), 4],
  [
    'migrate-under-writes',
    () => builtinScenario('migrate-under-writes', { accesses: 6, migrations: 2 }),
    4,
  ],
  ['numa-balancing', () => builtinScenario('numa-balancing', { pages: 16, passes: 1 }), 4],
  ['fork, munmap, truncate', concurrentOpsScenario, 3],
  ['shmem-thp-migrate', () => builtinScenario('shmem-thp-migrate', {}), 3],
  ['rfc-lock-order', () => builtinScenario('rfc-lock-order', {}), 6],
];

describe('the incremental LRU step check reports what the whole check reports', () => {
  for (const [name, make, schedules] of CASES) {
    it(`${name}: ${schedules} random schedules, legal and corrupted states`, {
      timeout: 240_000,
    }, () => {
      const stats: DiffStats = {
        checks: 0,
        corrupted: 0,
        reported: 0,
        followed: 0,
        mismatches: [],
      };
      for (let seed = 1; seed <= schedules; seed++) compareSchedule(make(), seed, 7, stats);
      expect(stats.mismatches).toEqual([]);
      // The comparison saw broken states, and the checks found problems in them.
      expect(stats.corrupted).toBeGreaterThan(5);
      expect(stats.reported).toBeGreaterThan(stats.corrupted / 4);
      // Most passes followed a sound one, so they were incremental.
      expect(stats.followed).toBeGreaterThan(stats.checks / 3);
    });
  }
});
