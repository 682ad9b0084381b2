import { type Folio, folioAlloc, folioGet, folioPut, folioRefCount, pfnFolio } from '@mmsim/folio';
import { createKernel, touchPages } from '@mmsim/kernel';
import { lruUncontended } from '@mmsim/lru/internal';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, Runtime, type Task } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { compactionActorStats, compactMemory } from '../src/index.js';

/**
 * The migration scanner's scheduling points are virtual steps (`Runtime.virtualStep`) and
 * its LRU candidates are checked and isolated as plain calls while nothing suspends: the
 * same run as with every point a real `yield` (virtual steps refused) and as with the LRU's
 * plain calls off (every isolation through the `isolateLruFolioHeld` generator).
 */

const ANON = 48;
const PINNED = 5;

interface Outcome {
  readonly run: string;
  readonly steps: string;
  readonly trace: string;
  readonly vmstat: string;
  readonly layout: string;
  readonly pinnedRefs: number;
}

/**
 * One node of 2048 pages, two CPUs: a shell fragments the node (ANON anon pages at the
 * bottom, one of them pinned, every other page of the upper half free), then writes
 * compact_memory; a second task steps alongside, so that decisions are made mid-compaction.
 */
function compactionRun(seed: number, strategy: 'random' | 'pct'): Outcome {
  const k = createKernel({
    nodes: [{ pages: 2048 }],
    cpusPerNode: 2,
    variant: 'v6.3',
    seed,
    strategy: strategy === 'pct' ? { kind: 'pct', depth: 3 } : 'random',
    onStep: (task) => steps.push(task.name),
  });
  const steps: string[] = [];
  const trace: string[] = [];
  for (const name of [
    'mm_compaction_begin',
    'mm_compaction_end',
    'mm_compaction_suitable',
    'mm_compaction_finished',
    'mm_compaction_isolate_migratepages',
    'mm_compaction_isolate_freepages',
    'mm_compaction_migratepages',
    'mm_migrate_pages_start',
    'mm_migrate_pages',
  ]) {
    k.rt.trace.on(name, (e) => trace.push(`${e.name}@${e.ts}: ${k.rt.trace.formatFields(e)}`));
  }
  const mm = k.createProcess('app');
  const addr = k.vm.mmap(mm, { length: ANON * PAGE_SIZE });
  let pinned: Folio = -1;
  let pinnedRefs = -1;
  const placed: number[] = [];
  k.rt.spawn('sh', 0, function* (task: Task): KernelGen {
    yield* touchPages(k, mm, addr, ANON, (i) => 1000 + i);
    yield* k.lru.lruAddDrainAll();
    const held: Folio[] = [];
    for (let f = folioAlloc(k.mem, 0, 0, { thisNode: true }); f >= 0; ) {
      held.push(f);
      f = folioAlloc(k.mem, 0, 0, { thisNode: true });
    }
    const kept: Folio[] = [];
    for (const f of held) {
      if (f >= 1024 && f % 2 === 0) folioPut(k.mem, f);
      else kept.push(f);
    }
    // A pinned anon page (a reference beyond its mapping): the scanner refuses it and drops
    // its lookup reference again.
    pinned = pfnFolio(k.mem, PINNED);
    folioGet(k.mem, pinned);
    yield* compactMemory(k, { cpu: 0, stats: compactionActorStats() }).body(task);
    pinnedRefs = folioRefCount(k.mem, pinned);
    // Where each page went: the order of cc->migratepages decides which target it gets.
    for (let i = 0; i < ANON; i++) placed.push(k.vm.followPage(mm, addr + i * PAGE_SIZE));
    folioPut(k.mem, pinned);
    for (let i = 0; i < ANON; i++) {
      expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(1000 + i);
    }
    for (const f of kept) folioPut(k.mem, f);
  });
  k.rt.spawn('other', 1, function* (): KernelGen {
    for (let i = 0; i < 60; i++) yield;
  });
  const r = k.run();
  const layout: number[] = [];
  for (let pfn = 0; pfn < 2048; pfn++) layout.push(pfnFolio(k.mem, pfn));
  expect(placed.length).toBe(ANON);
  return {
    run: `${r.status} ${r.steps} ${r.replayToken} ${r.virtualTimeNs}`,
    steps: steps.join(','),
    trace: trace.join('\n'),
    vmstat: JSON.stringify(k.vmstat.entries()),
    layout: `${layout.join(',')} placed ${placed.join(',')}`,
    pinnedRefs,
  };
}

const realVirtualStep = Runtime.prototype.virtualStep;

afterEach(() => {
  Runtime.prototype.virtualStep = realVirtualStep;
  lruUncontended.enabled = true;
});

describe('compaction migration scanner: virtual steps and plain isolations', () => {
  it('runs as with every scheduling point a real yield and as through the generators', () => {
    let virtualTaken = 0;
    for (const strategy of ['random', 'pct'] as const) {
      for (const seed of [1, 2]) {
        Runtime.prototype.virtualStep = function (this: Runtime): boolean {
          const taken = realVirtualStep.call(this);
          if (taken) virtualTaken++;
          return taken;
        };
        const plain = compactionRun(seed, strategy);
        Runtime.prototype.virtualStep = () => false;
        const yielding = compactionRun(seed, strategy);
        Runtime.prototype.virtualStep = realVirtualStep;
        lruUncontended.enabled = false;
        const general = compactionRun(seed, strategy);
        lruUncontended.enabled = true;
        expect(plain.run.startsWith('completed')).toBe(true);
        // The pin and the mapping: the lookup reference of the refusal was dropped.
        expect(plain.pinnedRefs).toBe(2);
        expect(plain.trace).toContain('mm_compaction_isolate_migratepages');
        for (const other of [yielding, general]) {
          expect(other.run).toBe(plain.run);
          expect(other.steps).toBe(plain.steps);
          expect(other.trace).toBe(plain.trace);
          expect(other.vmstat).toBe(plain.vmstat);
          expect(other.layout).toBe(plain.layout);
          expect(other.pinnedRefs).toBe(plain.pinnedRefs);
        }
      }
    }
    // The runs took virtual steps at all (else the comparison shows nothing).
    expect(virtualTaken).toBeGreaterThan(0);
  });
});
