import {
  BufferRecycler,
  createPhysicalMemory,
  type Folio,
  PG_active,
  PG_lru,
  PG_mlocked,
  PG_unevictable,
  releasePhysicalMemory,
} from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { Runtime, VmStat } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { lruLooksSound, lruStateOf, reportLru } from '../src/internal.js';
import type { LruState } from '../src/lru-state.js';
import { LruVecs } from '../src/lru-vecs.js';
import {
  anonFolio,
  createLruMachine,
  fileFolio,
  type LruMachine,
  onCpu,
  runScript,
} from '../src/testing/index.js';

/*
 * `checkLru` without `scanMemory` (the step check of lru-consistent) answers from
 * `lruLooksSound` when that says sound and from `reportLru` otherwise: the fast walk must
 * never call sound what the report finds wrong, nor (for speed) the reverse.
 */

interface Rich {
  readonly m: LruMachine;
  readonly s: LruState;
  /** Folios on the lists of node 0 and 1, and in CPU 0's lru_add batch. */
  readonly listed: Folio[];
  readonly queued: Folio[];
}

/** Anon and file folios (one a THP) on both nodes' lists, three more in a batch. */
function rich(): Rich {
  const m = createLruMachine();
  const listed = [
    anonFolio(m.mem, 0),
    anonFolio(m.mem, 0, 2),
    fileFolio(m.mem, 0),
    fileFolio(m.mem, 1),
    anonFolio(m.mem, 1, 9),
  ];
  const queued = [anonFolio(m.mem, 0), fileFolio(m.mem, 0), anonFolio(m.mem, 1)];
  runScript(m, function* () {
    yield* onCpu(m.rt, 0, function* () {
      for (const f of listed) yield* m.lru.folioAddLru(f);
      yield* m.lru.lruAddDrain();
      for (const f of queued) yield* m.lru.folioAddLru(f);
    });
  });
  return { m, s: lruStateOf(m.lru.view), listed, queued };
}

function verdicts(r: Rich, scanMemory = false): { sound: boolean; report: string[] } {
  return { sound: lruLooksSound(r.s, scanMemory), report: reportLru(r.s, { scanMemory }) };
}

describe('lruLooksSound agrees with reportLru', () => {
  test('the rich machine is sound for both, and the step check says nothing', () => {
    const r = rich();
    expect(r.m.lru.view.batchLength(0)).toBe(3);
    expect(verdicts(r)).toEqual({ sound: true, report: [] });
    expect(verdicts(r, true)).toEqual({ sound: true, report: [] });
    expect(r.m.lru.view.check({ scanMemory: false })).toEqual([]);
    expect(r.m.lru.view.check()).toEqual([]);
  });

  const corruptions: Array<[string, (r: Rich) => void, RegExp]> = [
    [
      'PG_lru clear on a listed folio outside an isolation',
      (r) => {
        memmapOf(r.m.mem).flags[r.listed[0]!]! &= ~(1 << PG_lru);
      },
      /on the list with PG_lru clear/,
    ],
    [
      'a folio both on a list and in a batch',
      (r) => {
        const b = r.s.batches[0]!;
        b.folios[b.nr++] = r.listed[1]!;
      },
      /is both on/,
    ],
    [
      'a list size off by one',
      (r) => {
        r.s.lruvecs[0]!.sizes[0]!++;
      },
      /pages but its size says|but vmstat/,
    ],
    [
      'a flag of another list set while listed',
      (r) => {
        memmapOf(r.m.mem).flags[r.listed[2]!]! |= 1 << PG_active;
      },
      /has the flags of/,
    ],
    [
      'PG_active and PG_unevictable together',
      (r) => {
        memmapOf(r.m.mem).flags[r.listed[3]!]! |= (1 << PG_active) | (1 << PG_unevictable);
      },
      /both PG_active and PG_unevictable|has the flags of/,
    ],
    [
      'an mlocked folio on an evictable list, in no mlock batch',
      (r) => {
        memmapOf(r.m.mem).flags[r.listed[0]!]! |= 1 << PG_mlocked;
      },
      /is mlocked but not on the unevictable list/,
    ],
    [
      'a listed folio at refcount 0, not being released',
      (r) => {
        memmapOf(r.m.mem).refcount[r.listed[4]!] = 0;
      },
      /has refcount 0/,
    ],
    [
      'a listed folio marked as queued',
      (r) => {
        r.s.where[r.listed[0]!] = 1;
      },
      /also marked as queued/,
    ],
    [
      'a queued folio with PG_lru set',
      (r) => {
        memmapOf(r.m.mem).flags[r.queued[0]!]! |= 1 << PG_lru;
      },
      /has PG_lru set/,
    ],
    [
      'a queued folio that lost the batch reference',
      (r) => {
        memmapOf(r.m.mem).refcount[r.queued[1]!] = 0;
      },
      /lost the batch's reference/,
    ],
    [
      'a queued folio not marked as queued',
      (r) => {
        r.s.where[r.queued[2]!] = 0;
      },
      /not marked as queued/,
    ],
    [
      'a batch holding more than PAGEVEC_SIZE folios',
      (r) => {
        r.s.batches[1]!.nr = 16;
      },
      /holds 16 folios/,
    ],
    [
      'a freed folio in a batch',
      (r) => {
        const b = r.s.batches[1]!;
        b.folios[b.nr++] = 3000;
      },
      /is not a live folio/,
    ],
    [
      'an mlock_fbatch entry on a free frame',
      (r) => {
        r.s.mlockBatches[0]!.entries.push(3000 * 4 + 1);
      },
      /mlock_fbatch of cpu 0: folio 3000 is not a live folio/,
    ],
    [
      'a negative lru_disable_count',
      (r) => {
        r.s.disableCount = -1;
      },
      /lru_disable_count is -1/,
    ],
    [
      'a listed folio on the wrong node',
      (r) => {
        memmapOf(r.m.mem).nid[r.listed[3]!] = 0;
      },
      /belongs to node 0/,
    ],
  ];

  for (const [name, corrupt, problem] of corruptions) {
    test(`finds ${name}`, () => {
      const r = rich();
      corrupt(r);
      const { sound, report } = verdicts(r);
      expect(report.join('\n')).toMatch(problem);
      expect(sound).toBe(false);
      expect(r.m.lru.view.check({ scanMemory: false })).toEqual(report);
      expect(lruLooksSound(r.s, true)).toBe(false);
      expect(r.m.lru.view.check()).toEqual(reportLru(r.s));
    });
  }

  // What only the memory scan (the end check) finds.
  const unlisted: Array<[string, (r: Rich) => void, RegExp]> = [
    [
      'an LRU flag without the list',
      (r) => {
        const f = anonFolio(r.m.mem, 1);
        memmapOf(r.m.mem).flags[f]! |= 1 << PG_lru;
      },
      /has PG_lru set but is on no LRU list/,
    ],
    [
      'a WHERE mark left on a folio off the LRU',
      (r) => {
        r.s.where[anonFolio(r.m.mem, 0)] = 2;
      },
      /is marked 2 but is on no LRU list and in no batch/,
    ],
    [
      'nr_mlock out of step with the PG_mlocked folios',
      (r) => {
        memmapOf(r.m.mem).flags[anonFolio(r.m.mem, 1, 1)]! |= 1 << PG_mlocked;
      },
      /node 1: nr_mlock is 0 but its mlocked folios have 2 pages/,
    ],
  ];

  for (const [name, corrupt, problem] of unlisted) {
    test(`the memory scan finds ${name}`, () => {
      const r = rich();
      corrupt(r);
      expect(verdicts(r, false)).toEqual({ sound: true, report: [] });
      const { sound, report } = verdicts(r, true);
      expect(report.join('\n')).toMatch(problem);
      expect(sound).toBe(false);
      expect(r.m.lru.view.check()).toEqual(report);
    });
  }

  test('the memory scan finds a stray mark or PG_lru on any folio, past free frames and in the last frames', () => {
    // The scan steps over 8 free frames (and 8 marks of 0) at a time: a folio anywhere,
    // after free runs, between folios, or in the frames after the last whole word (node 1
    // of 61 pages, every one of them allocated), must still be met.
    for (const [nodes, count] of [
      [[4096, 4096], 12],
      [[64, 61], 61],
    ] as const) {
      const m = createLruMachine({ nodes });
      const s = lruStateOf(m.lru.view);
      const mm = memmapOf(m.mem);
      const folios: Folio[] = [];
      for (let i = 0; i < count; i++) folios.push(anonFolio(m.mem, 1, count === 61 ? 0 : i % 3));
      if (count === 61) expect(folios).toContain(mm.maxPfn - 1);
      expect(lruLooksSound(s, true)).toBe(true);
      for (const f of folios) {
        s.where[f] = 2;
        expect(lruLooksSound(s, true)).toBe(false);
        expect(reportLru(s).join('\n')).toContain(`pfn ${f} is marked 2`);
        s.where[f] = 0;
        mm.flags[f]! |= 1 << PG_lru;
        expect(lruLooksSound(s, true)).toBe(false);
        expect(reportLru(s).join('\n')).toContain(`folio ${f} has PG_lru set`);
        mm.flags[f]! &= ~(1 << PG_lru);
        expect(lruLooksSound(s, true)).toBe(true);
      }
    }
  });

  test('600 random one-field corruptions of listed and queued folios: same verdict each time', () => {
    let seed = 5;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const disagreements: string[] = [];
    let unsound = 0;
    for (let trial = 0; trial < 600; trial++) {
      const r = rich();
      const mm = memmapOf(r.m.mem);
      const folios = [...r.listed, ...r.queued];
      const f = folios[Math.floor(next() * folios.length)]!;
      const what = Math.floor(next() * 6);
      if (what === 0) mm.flags[f]! ^= 1 << Math.floor(next() * 24);
      else if (what === 1) mm.refcount[f] = Math.floor(next() * 3) - 1;
      else if (what === 2) r.s.where[f] = Math.floor(next() * 4);
      else if (what === 3) mm.order[f] = Math.floor(next() * 4);
      else if (what === 4) mm.nid[f] = 1 - mm.nid[f]!;
      else r.s.lruvecs[Math.floor(next() * 2)]!.sizes[Math.floor(next() * 5)]! += 1;
      for (const scan of [false, true]) {
        const { sound, report } = verdicts(r, scan);
        if (report.length > 0) unsound++;
        if (sound !== (report.length === 0)) {
          disagreements.push(
            `trial ${trial}: folio ${f} change ${what} scan ${scan}: ${sound} vs ${report[0]}`,
          );
        }
      }
    }
    expect(disagreements).toEqual([]);
    expect(unsound).toBeGreaterThan(400);
  });

  test('machines built one after another from a recycler: the walk marks folios in buffers of the machine', () => {
    // An explorer's machines: the walk's per-pfn marks come from the machine's buffers, back
    // to the recycler with it and zeroed for the next machine, which must start unmarked.
    const recycler = new BufferRecycler();
    for (let round = 0; round < 3; round++) {
      const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1], strategy: 'in-order', seed: 1 });
      const mem = createPhysicalMemory({ nodes: [{ pages: 64 }, { pages: 64 }] }, recycler);
      const vmstat = new VmStat(2);
      const machine: LruMachine = { rt, mem, vmstat, lru: new LruVecs(rt, mem, vmstat) };
      const listed = [anonFolio(mem, 0), fileFolio(mem, 1), anonFolio(mem, 0, 2)];
      runScript(machine, function* () {
        yield* onCpu(rt, 0, function* () {
          for (const f of listed) yield* machine.lru.folioAddLru(f);
          yield* machine.lru.lruAddDrain();
        });
      });
      const s = lruStateOf(machine.lru.view);
      for (let pass = 0; pass < 3; pass++) expect(lruLooksSound(s, pass === 2)).toBe(true);
      // A folio met twice (on its list and queued) is found, pass after pass.
      const b = s.batches[0]!;
      b.folios[b.nr++] = listed[round]!;
      expect(lruLooksSound(s)).toBe(false);
      expect(reportLru(s).join('\n')).toMatch(/is both on/);
      b.nr--;
      expect(lruLooksSound(s, true)).toBe(true);
      releasePhysicalMemory(mem);
    }
  });
});
