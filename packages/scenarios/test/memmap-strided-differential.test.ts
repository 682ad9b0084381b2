import { folioPagesByNode } from '@mmsim/folio';
import { memmapOf, physicalMemoryLooksSound } from '@mmsim/folio/internal';
import type { Kernel } from '@mmsim/kernel';
import type { Invariant } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  DEFAULT_INVARIANT_STRIDE,
  runScenario,
  type Scenario,
} from '../src/index.js';

/*
 * The memory-map step check runs every DEFAULT_INVARIANT_STRIDE-th step, so an incremental
 * pass sees what the writers stamped over that many steps: on pmbench-migrate, folios moved
 * between the nodes, freed and allocated, and moved on and off the LRU and migration lists,
 * over several 16-frame chunks. Here, at each such step and at the end, the incremental
 * pass, then the full one, run on the same state and must agree, and so must
 * frames-conserved's incremental count (`folioPagesByNode(…, true)`, before the passes and
 * right after them), its end count after the full pass (`folioPagesByNode(…, false, true)`)
 * and its full walk.
 */

const HALF = DEFAULT_INVARIANT_STRIDE >> 1;

interface Seen {
  checks: number;
  incrementalSound: number;
  readonly mismatches: string[];
}

/**
 * Whether `folioPagesByNode`'s incremental count is its full walk's (and, `afterFull`, its
 * count right after a sound full pass, `afterFullCheck`); else notes `label`.
 */
function samePages(k: Kernel, label: string, seen: Seen, afterFull = false): boolean {
  const nodes = memmapOf(k.mem).nrNodes;
  const walked = new Float64Array(nodes);
  const taken = new Float64Array(nodes);
  folioPagesByNode(k.mem, walked);
  folioPagesByNode(k.mem, taken, true);
  if (afterFull) {
    const fromPass = new Float64Array(nodes);
    folioPagesByNode(k.mem, fromPass, false, true);
    if (fromPass.join() !== walked.join()) {
      seen.mismatches.push(
        `${label}: after the full pass ${fromPass.join()}, walked ${walked.join()}`,
      );
      return false;
    }
  }
  if (walked.join() === taken.join()) return true;
  seen.mismatches.push(`${label}: pages ${taken.join()}, walked ${walked.join()}`);
  return false;
}

function stridedComparison(scenario: Scenario, seen: Seen): Scenario {
  return {
    ...scenario,
    build(k: Kernel) {
      const world = scenario.build(k);
      let steps = 0;
      const check: Invariant = {
        name: 'memmap-strided-differential',
        check(phase) {
          // Half a stride after the kernel's own memmap-consistent and frames-conserved
          // checks, whose passes would leave nothing stamped for this one.
          if (phase === 'step' && ++steps % DEFAULT_INVARIANT_STRIDE !== HALF) return null;
          seen.checks++;
          const m = memmapOf(k.mem);
          // frames-conserved's incremental count before the passes (the chunks stamped over
          // the last stride walked, the rest from the summaries), then after them (the
          // counts the sound pass recorded): each must be the full walk's.
          const early = samePages(k, `${phase} ${steps}: before the passes`, seen);
          const incremental = physicalMemoryLooksSound(m, true);
          const full = physicalMemoryLooksSound(m);
          if (incremental) seen.incrementalSound++;
          if (incremental !== full) {
            seen.mismatches.push(`${phase} ${steps}: incremental ${incremental}, full ${full}`);
          }
          if (early && full) samePages(k, `${phase} ${steps}: after the passes`, seen, true);
          return null;
        },
      };
      return { ...world, invariants: [...(world.invariants ?? []), check] };
    },
  };
}

describe('the strided incremental memory-map pass agrees with the full one', () => {
  it('pmbench-migrate (4 threads, 128 pages): every 16th step and the end', {
    timeout: 300_000,
  }, () => {
    const seen: Seen = { checks: 0, incrementalSound: 0, mismatches: [] };
    const scenario = stridedComparison(
      builtinScenario('pmbench-migrate', { threads: 4, pages: 128, roundTrips: 1 }),
      seen,
    );
    for (let seed = 1; seed <= 3; seed++) {
      runScenario(scenario, { variant: 'v6.3', strategy: 'random', seed });
    }
    expect(seen.mismatches).toEqual([]);
    // Legal states all along: no pass rejected one.
    expect(seen.incrementalSound).toBe(seen.checks);
    expect(seen.checks).toBeGreaterThan(100);
  });
});
