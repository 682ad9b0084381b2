import {
  type Folio,
  folioEntireMapcount,
  folioFlags,
  folioIndex,
  folioNid,
  folioNrPages,
  folioOrder,
  folioRefCount,
  folioTestHugetlb,
  nodeSpannedPages,
  nodeStartPfn,
  PG_hwpoison,
  PG_private,
  type PhysicalMemory,
  pageMapcount,
  pageTestFlag,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import type { Kernel } from '@mmsim/kernel';
import { GUP_PIN_COUNTING_BIAS } from '@mmsim/rmap';
import type { Invariant } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, kernelInvariants, runScenario, type Scenario } from '../src/index.js';
import { forEachFolio } from '../src/invariants/folios.js';
import { firstProblem } from '../src/invariants/invariant.js';
import { prng as random } from './check-differential.js';
import { frameCountBefore } from './invariants-fast.js';

/*
 * The end checks frames-conserved and no-lock-held-at-end walk every folio with
 * `forEachFolio`, which reads the memory map's arrays, and frames-conserved reads each
 * page's mapcount from them. Before, the walk went through `pfnValid` / `pfnFolio` /
 * `folioNrPages` and the refcount sum through `pageMapcount`, per frame. Here the old
 * forms (kept below only to compare with) and the new ones run side by side after every
 * step and at the end of random schedules of the historic scenarios and
 * migrate-under-writes, on the sound states and on a corruption seeded at a random step
 * (after a random quarter of the steps: a frame's state, order, head, mapcount or
 * refcount changed, then put back): they must
 * visit the same folios, throw the same errors and give the same verdicts.
 */

/** `forEachFolio` as it was: the public accessors, one call per frame. */
function forEachFolioBefore(mem: PhysicalMemory, fn: (folio: Folio) => void): void {
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    const start = nodeStartPfn(mem, nid);
    const end = start + nodeSpannedPages(mem, nid);
    for (let pfn = start; pfn < end; ) {
      if (!pfnValid(mem, pfn)) {
        pfn++;
        continue;
      }
      const folio = pfnFolio(mem, pfn);
      if (folio !== pfn) {
        pfn++;
        continue;
      }
      fn(folio);
      pfn += folioNrPages(mem, folio);
    }
  }
}

/** The references frames-conserved expects a folio to hold, as it computed them before. */
function expectedRefsBefore(k: Kernel): (folio: Folio) => number {
  const mem = k.mem;
  const cache = new Map<Folio, number>();
  for (const file of k.files) {
    for (const [index, folio] of file.pages) {
      if (folioIndex(mem, folio) !== index) continue;
      const refs = folioTestHugetlb(mem, folio) ? 1 : folioNrPages(mem, folio);
      cache.set(folio, (cache.get(folio) ?? 0) + refs);
    }
  }
  const pins = new Map<Folio, number>();
  for (const mm of k.vm.processes) {
    for (const [pfn, n] of mm.pins) {
      const folio = pfnFolio(mem, pfn);
      const refs = folioOrder(mem, folio) > 0 ? n : n * GUP_PIN_COUNTING_BIAS;
      pins.set(folio, (pins.get(folio) ?? 0) + refs);
    }
  }
  return (folio) => {
    const entire = folioEntireMapcount(mem, folio);
    let maps = entire;
    const nr = folioNrPages(mem, folio);
    for (let i = 0; i < nr; i++) maps += pageMapcount(mem, folio + i) - entire;
    let refs = maps + (cache.get(folio) ?? 0) + (pins.get(folio) ?? 0);
    if ((folioFlags(mem, folio) & (1 << PG_private)) !== 0) refs++;
    if (nr === 1 && pageTestFlag(mem, folio, PG_hwpoison)) refs++;
    if (k.lruView.inBatch(folio)) refs++;
    for (const h of k.referenceHolders) refs += h.refs(folio);
    return refs;
  };
}

/** What a walk visited, in order, and what it threw. */
function visited(k: Kernel, walk: typeof forEachFolio): string {
  const out: string[] = [];
  try {
    walk(k.mem, (folio) => out.push(String(folio)));
  } catch (error) {
    out.push(`threw ${error instanceof Error ? error.message : String(error)}`);
  }
  return out.join(',');
}

/**
 * frames-conserved's end verdict as it was computed before (its frame count through the
 * accessors, as its end check counts: the step check may jump over free blocks no writer
 * changed, so it does not see the raw corruptions below; then the refcount of every folio
 * against the old expectation, with the old walk), or what it threw.
 */
function framesEndBefore(k: Kernel): string | null {
  try {
    const counted = firstProblem(frameCountBefore(k));
    if (counted !== null) return counted;
    const mem = k.mem;
    const expected = expectedRefsBefore(k);
    const problems: string[] = [];
    forEachFolioBefore(mem, (folio) => {
      if (folio === mem.zeroPfn) return;
      const want = expected(folio);
      const have = folioRefCount(mem, folio);
      if (have !== want) {
        problems.push(
          `folio ${folio} (node ${folioNid(mem, folio)}, order ${folioOrder(mem, folio)}) has refcount ${have} but its mappings, page cache, pins, buffers, LRU batch and drivers hold ${want}: ${have > want ? 'a reference leaked (the frame is lost)' : 'it is missing references'}`,
        );
      }
    });
    if (problems.length === 0) return null;
    return problems.length > 1 ? `${problems[0]} (and ${problems.length - 1} more)` : problems[0]!;
  } catch (error) {
    return `threw ${error instanceof Error ? error.message : String(error)}`;
  }
}

function verdict(inv: Invariant): string | null {
  try {
    return inv.check('end');
  } catch (error) {
    return `threw ${error instanceof Error ? error.message : String(error)}`;
  }
}

type Field = 'state' | 'order' | 'headOf' | 'mapcount' | 'refcount' | 'entireMapcount';
const FIELDS: readonly Field[] = [
  'state',
  'order',
  'headOf',
  'mapcount',
  'refcount',
  'entireMapcount',
];

interface Seen {
  states: number;
  corrupted: number;
  /** States where frames-conserved's end check found something. */
  unsound: number;
  readonly mismatches: string[];
}

/**
 * The scenario with one more invariant that compares the walks after every step and at
 * the end; after a quarter of the steps (chosen by `seed`) it also changes one field of
 * one frame, compares, and puts the field back.
 */
function comparing(scenario: Scenario, seen: Seen, seed: number): Scenario {
  const next = random(seed);
  return {
    ...scenario,
    build(k: Kernel) {
      const world = scenario.build(k);
      const [frames, locks] = kernelInvariants(k, {
        stride: 1,
        only: ['frames-conserved', 'no-lock-held-at-end'],
      }) as [Invariant, Invariant];
      let steps = 0;
      const compare = (where: string) => {
        seen.states++;
        const before = visited(k, forEachFolioBefore);
        const now = visited(k, forEachFolio);
        if (before !== now) seen.mismatches.push(`${where}: visited ${before} before, ${now} now`);
        const framesBefore = framesEndBefore(k);
        const framesNow = verdict(frames);
        if (framesBefore !== framesNow) {
          seen.mismatches.push(`${where}: frames ${framesBefore} before, ${framesNow} now`);
        }
        if (framesNow !== null) seen.unsound++;
        // no-lock-held-at-end only changed its walk: it finds nothing at a sound state
        // exactly when the walk visits nothing locked (checked by its own tests); here it
        // must not throw where the old walk did not.
        const locksNow = verdict(locks);
        if (locksNow?.startsWith('threw') === true && !before.includes('threw')) {
          seen.mismatches.push(`${where}: no-lock-held-at-end ${locksNow}`);
        }
      };
      const check: Invariant = {
        name: 'walks-agree',
        check(phase) {
          if (phase === 'end') {
            compare('end');
            return null;
          }
          steps++;
          compare(`step ${steps}`);
          if (next() < 0.25) {
            const m = memmapOf(k.mem);
            const field = FIELDS[Math.floor(next() * FIELDS.length)]!;
            const array = m[field] as unknown as Int32Array;
            // A frame of the nodes: a head, a tail or a free frame.
            const nid = Math.floor(next() * k.mem.nrNodes);
            const start = nodeStartPfn(k.mem, nid);
            const at = start + Math.floor(next() * nodeSpannedPages(k.mem, nid));
            const old = array[at]!;
            const choices = field === 'order' ? [old + 1, 0, 1, 9] : [old + 1, old - 1, 3, 4, at];
            array[at] = choices[Math.floor(next() * choices.length)]!;
            seen.corrupted++;
            compare(`step ${steps}, ${field}[${at}] ${old} -> ${array[at]}`);
            array[at] = old;
          }
          return null;
        },
      };
      return { ...world, invariants: [...(world.invariants ?? []), check] };
    },
  };
}

const CASES: ReadonlyArray<readonly [string, number]> = [
  ['rfc-lock-order', 6],
  ['loop-bh-deadlock', 6],
  ['loop-writeback-deadlock', 6],
  ['split-lock-deadlock', 6],
  ['migrate-under-writes', 3],
];

describe('the end checks walk the same folios as with the accessors', () => {
  for (const [name, seeds] of CASES) {
    it(`${name}: ${seeds} random schedules, every step, the end, corruptions`, {
      timeout: 300_000,
    }, () => {
      const seen: Seen = { states: 0, corrupted: 0, unsound: 0, mismatches: [] };
      for (let seed = 1; seed <= seeds; seed++) {
        const scenario = comparing(builtinScenario(name), seen, seed);
        runScenario(scenario, { variant: 'v6.3', strategy: 'random', seed });
      }
      expect(seen.mismatches).toEqual([]);
      expect(seen.states).toBeGreaterThan(seeds * 20);
      expect(seen.corrupted).toBeGreaterThan(seeds * 5);
      expect(seen.unsound).toBeGreaterThan(0);
    });
  }
});
