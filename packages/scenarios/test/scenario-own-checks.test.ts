import { type Folio, folioAlloc, folioPut } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import { mkMigrationEntry, mkPte, PTE_PRESENT, SWP_MIGRATION_WRITE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  concatSelectors,
  type FolioSelector,
  INVERSION_CHECK,
  instantiateScenario,
  kernelInvariants,
  loopBhDeadlock,
  loopWritebackDeadlock,
  mappedFolios,
  pageLockInversionCheck,
  rfcLockOrder,
  type Scenario,
  splitLockDeadlock,
} from '../src/index.js';
import { checkerInversionCheck } from '../src/page-lock-inversion.js';

/*
 * The scenarios' own per-step and end checks and the migrator's folio walks, made cheaper
 * (docs/performance.md, "The scenarios' own checks and walks"): each against what it did
 * before, a corruption found and a legal state passed.
 */

describe('the inversion check over the machine checker', () => {
  it('finds what the reports function finds, in the checker live list, and nothing with the checker off', () => {
    const k = createKernel({ nodes: [{ pages: 64 }], cpusPerNode: 2, dependencyChecking: true });
    const checker = k.checker;
    expect(checker).not.toBeNull();
    // Made before the run, as an explorer makes it: it must read the list as it grows.
    const direct = checkerInversionCheck(checker);
    const viaReports = pageLockInversionCheck(() => k.checker?.reports ?? []);
    expect(direct.name).toBe(INVERSION_CHECK);
    expect(direct.check()).toBeNull();
    const a = folioAlloc(k.mem, 0, 0) as Folio;
    const b = folioAlloc(k.mem, 0, 0) as Folio;
    const both = function* (first: Folio, second: Folio): KernelGen {
      yield* k.locks.folioLock(first, 'lock_first');
      yield;
      yield* k.locks.folioLock(second, 'lock_second');
      k.locks.folioUnlock(second);
      k.locks.folioUnlock(first);
    };
    // One after the other (no deadlock), in opposite orders: a cycle a -> b -> a.
    k.rt.spawn('ab', 0, function* (): KernelGen {
      yield* both(a, b);
      yield* both(b, a);
    });
    k.rt.run();
    expect(checker!.reports.length).toBeGreaterThan(0);
    const found = direct.check();
    expect(found).not.toBeNull();
    expect(found!.kind).toBe('inversion');
    expect(found).toEqual(viaReports.check());
    folioPut(k.mem, a);
    folioPut(k.mem, b);

    const off = createKernel({ nodes: [{ pages: 64 }] });
    expect(off.checker).toBeNull();
    const none = checkerInversionCheck(off.checker);
    expect(none.name).toBe(INVERSION_CHECK);
    expect(none.check()).toBeNull();
  });
});

describe('no-migration-entry-at-end, eight entries at a time', () => {
  it('finds an entry at every slot of a group, written through set or straight into the table, and passes groups of legal entries', () => {
    const k = createKernel({ nodes: [{ pages: 64 }] });
    const mm = k.vm.createProcess('p');
    const table = (
      mm as unknown as {
        pageTable(i: number): { ptes: Uint32Array; set(v: number, p: number): void };
      }
    ).pageTable(2);
    const [inv] = kernelInvariants(k, { only: ['no-migration-entry-at-end'] });
    const entry = mkMigrationEntry(7, SWP_MIGRATION_WRITE, false, false, false);
    // Legal entries, each in a group of its own with others empty: a present entry and one
    // with only the top bit.
    table.set(2 * 512 + 19, mkPte(5, PTE_PRESENT));
    table.set(2 * 512 + 301, 0x80000000);
    expect(inv!.check('end')).toBeNull();
    const at = (slot: number) =>
      `${mm} 0x${((2 * 512 + slot) * 4096).toString(16)} still holds a migration entry`;
    // Every slot of the first two groups and of the last, alone in their group; and next
    // to the legal ones.
    const slots = [...Array(16).keys(), ...Array.from({ length: 8 }, (_, i) => 504 + i)];
    for (const slot of [...slots, 22, 300]) {
      table.set(2 * 512 + slot, entry);
      expect(inv!.check('end'), `slot ${slot} through set`).toBe(at(slot));
      table.set(2 * 512 + slot, 0);
      // Past `set` (its `used` count and marks not kept): still read.
      table.ptes[slot] = entry;
      expect(inv!.check('end'), `slot ${slot} written straight`).toBe(at(slot));
      table.ptes[slot] = 0;
    }
    // Two in one group: both counted, the first reported.
    table.ptes[9] = entry;
    table.ptes[14] = entry;
    expect(inv!.check('end')).toBe(`${at(9)} (and 1 more)`);
    table.ptes[9] = 0;
    table.ptes[14] = 0;
    expect(inv!.check('end')).toBeNull();
  });
});

/** `concatSelectors` as it was: a generator running `yield*` over each selector's walk. */
function referenceConcat(...selectors: readonly FolioSelector[]): FolioSelector {
  return function* (round, target) {
    for (const s of selectors) yield* s(round, target);
  };
}

describe('concatSelectors as an iterator object', () => {
  it('gives the folios, result objects, selector calls and return() a yield* generator gives', () => {
    const k = createKernel({ nodes: [{ pages: 256 }] });
    const mm = k.createProcess('p');
    const addr = 0x4000_0000;
    const folios = [0, 1, 2, 3, 4].map(() => folioAlloc(k.mem, 0, 0) as Folio);
    // Address i maps folios[map[i]], or nothing for -1 (a null from the walk).
    const map = [0, -1, 1, 1, 2, -1, 3, 4];
    k.vm.presentPfnAt = (_mm, at) => {
      const i = map[(at - addr) / 4096];
      return i === undefined || i < 0 ? -1 : (folios[i] as number);
    };
    /** Selectors that log when they are called and when their walks step and end. */
    const build = (log: string[]) => {
      const logged =
        (name: string, s: FolioSelector): FolioSelector =>
        (round, target) => {
          log.push(`call ${name} ${round} ${target}`);
          const walk = s(round, target)[Symbol.iterator]();
          return {
            [Symbol.iterator]: () => ({
              next: () => {
                const r = walk.next();
                log.push(`${name} ${r.done === true ? 'done' : String(r.value)}`);
                return r;
              },
              return: () => {
                log.push(`${name} return`);
                return walk.return?.() ?? { done: true, value: undefined };
              },
            }),
          };
        };
      return [
        logged('mapped', mappedFolios(k, mm, addr, map.length)),
        logged('empty', () => []),
        logged('given', () => [folios[4] as Folio, null, folios[0] as Folio]),
        logged('gen', function* (round) {
          yield (folios[round % folios.length] as Folio) ?? null;
        }),
      ];
    };
    for (let round = 0; round < 3; round++) {
      const wantLog: string[] = [];
      const gotLog: string[] = [];
      const want = referenceConcat(...build(wantLog))(round, 1);
      const got = concatSelectors(...build(gotLog))(round, 1);
      // Whole walks: the same values and the same log (selectors called as the walk reaches
      // them, not before).
      const a = want[Symbol.iterator]();
      const b = got[Symbol.iterator]();
      for (;;) {
        const ra = a.next();
        const rb = b.next();
        expect(rb).toEqual(ra);
        expect(gotLog).toEqual(wantLog);
        if (ra.done === true) break;
      }
      expect(b.next()).toEqual({ done: true, value: undefined });
      expect(gotLog).toEqual(wantLog);
      // Broken off inside the third selector's walk: return() reaches that walk, and no
      // later selector is called.
      for (const [log, sel] of [
        [wantLog, referenceConcat(...build(wantLog))],
        [gotLog, concatSelectors(...build(gotLog))],
      ] as const) {
        log.length = 0;
        let n = 0;
        for (const _ of sel(round, 2)) if (++n === 9) break;
      }
      expect(gotLog).toEqual(wantLog);
      expect(gotLog.at(-1)).toBe('given return');
    }
    // The mapped walk's own result object is handed on as it is (as yield* does).
    const single = concatSelectors(mappedFolios(k, mm, addr, map.length))(0, 1);
    const it = single[Symbol.iterator]();
    const first = it.next();
    expect(it.next()).toBe(first);
    for (const f of folios) folioPut(k.mem, f);
  });
});

describe('the actors scheduling points as virtual steps', () => {
  /** A run's steps (task and number, as the step hook saw them) and its result. */
  const run = (
    scenario: Scenario,
    variant: 'v6.3' | 'v6.11',
    seed: number,
    strategy: 'random' | 'pct',
    real: boolean,
  ) => {
    const seen: string[] = [];
    const instance = instantiateScenario(scenario, {
      variant,
      seed,
      strategy,
      onStep: (task, step) => {
        seen.push(`${task.name}:${step}`);
      },
    });
    // Every scheduling point a real round: what the actors' plain `yield`s gave.
    if (real) instance.kernel.rt.virtualStep = () => false;
    const result = instance.kernel.run();
    return {
      seen,
      status: result.status,
      steps: result.steps,
      token: result.replayToken,
      clocks: result.cpuClocks,
      vmstat: instance.kernel.vmstat.entries(),
    };
  };

  it.each([
    ['rfc-lock-order (migrator, range locker)', rfcLockOrder(), 'v6.3' as const],
    ['split-lock-deadlock (erofs reader)', splitLockDeadlock(), 'v6.11' as const],
    ['loop-bh-deadlock (loop worker, buffer writer)', loopBhDeadlock(), 'v6.3' as const],
    ['loop-writeback-deadlock (writeback worker)', loopWritebackDeadlock(), 'v6.3' as const],
  ])('%s: the same steps, tokens and clocks as real rounds', (_name, scenario, variant) => {
    for (const strategy of ['random', 'pct'] as const) {
      for (let seed = 1; seed <= 4; seed++) {
        expect(run(scenario, variant, seed, strategy, false), `${strategy} seed ${seed}`).toEqual(
          run(scenario, variant, seed, strategy, true),
        );
      }
    }
  });
});
