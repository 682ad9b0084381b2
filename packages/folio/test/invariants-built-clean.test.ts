import { describe, expect, test } from 'vitest';
import {
  allocHugetlbFolio,
  BufferRecycler,
  checkPhysicalMemory,
  createPhysicalMemory,
  declareCmaArea,
  FolioList,
  folioAlloc,
  folioPagesByNode,
  folioPut,
  MEMORY_OFFLINE,
  MIGRATE_MOVABLE,
  type PhysicalMemory,
  type PhysicalMemoryConfig,
  releasePhysicalMemory,
  startIsolatePageRange,
  undoIsolatePageRange,
} from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import { BUILT_EPOCH, type Memmap, markWritten, memmapOf } from '../src/memmap.js';
import { PAGEBLOCK_NR_PAGES } from '../src/pageblock.js';
import { seededRandom } from './rich-memory.js';

/*
 * `trustBuilt`: the first incremental pass on a machine built from a configuration frozen
 * all through takes the memory map as built for found sound (one full pass of a machine of
 * its own stands for every machine built from it) and reads what the writers stamped since
 * the build. These tests compare that pass's verdict with the report's, which reads
 * everything, after random operations through the writers and a stamped corruption.
 */

/** Two nodes, a hugetlb pool and a ZONE_MOVABLE, frozen all through (as a kernel's). */
const FROZEN: PhysicalMemoryConfig = Object.freeze({
  nodes: Object.freeze([
    Object.freeze({ pages: 4096, hugetlbPages: 2 }),
    Object.freeze({ pages: 2048, movablePages: 1024 }),
  ]),
});

const FIELDS = [
  'state',
  'order',
  'refcount',
  'mapcount',
  'flags',
  'headOf',
  'listId',
  'next',
  'prev',
  'freeKind',
  'nid',
  'mappingId',
] as const;

function reportSound(mem: PhysicalMemory): boolean {
  return reportPhysicalMemory(mem).length === 0;
}

/** The incremental `folioPagesByNode` against the full walk. */
function samePages(mem: PhysicalMemory): boolean {
  const full = new Float64Array(2);
  const incremental = new Float64Array(2);
  folioPagesByNode(mem, full);
  folioPagesByNode(mem, incremental, true);
  return full.join() === incremental.join();
}

/** One random operation through the package's writers. */
function randomOperation(
  mem: PhysicalMemory,
  next: () => number,
  lists: FolioList[],
  live: number[],
): void {
  const r = next();
  const pick = live[Math.floor(next() * live.length)];
  const on = pick === undefined ? undefined : lists.find((l) => l.has(pick));
  const list = lists[Math.floor(next() * lists.length)]!;
  if (r < 0.35 || pick === undefined) {
    const order = [0, 0, 0, 1, 2, 3, 4, 9][Math.floor(next() * 8)]!;
    const f = folioAlloc(mem, order, next() < 0.5 ? 0 : 1);
    if (f >= 0) live.push(f);
  } else if (r < 0.55) {
    if (on === undefined) list.addTail(pick);
    else if (on === list) list.del(pick);
    else on.moveTo(pick, list);
  } else if (r < 0.8) {
    on?.del(pick);
    live.splice(live.indexOf(pick), 1);
    folioPut(mem, pick);
  } else if (r < 0.85) {
    const f = allocHugetlbFolio(mem, 0);
    if (f >= 0) live.push(f);
  } else if (r < 0.9) {
    // A CMA area declared after the build: the pageblocks' kinds the build did not have.
    const base = 4096 + Math.floor(next() * 4) * PAGEBLOCK_NR_PAGES;
    try {
      declareCmaArea(mem, base, PAGEBLOCK_NR_PAGES);
    } catch {
      // Already declared, or in use: refused, nothing changed.
    }
  } else {
    const block = Math.floor(next() * 8) * PAGEBLOCK_NR_PAGES;
    if (
      startIsolatePageRange(
        mem,
        block,
        block + PAGEBLOCK_NR_PAGES,
        MIGRATE_MOVABLE,
        MEMORY_OFFLINE,
      ) === 0
    ) {
      undoIsolatePageRange(mem, block, block + PAGEBLOCK_NR_PAGES, MIGRATE_MOVABLE);
    }
  }
}

/**
 * A stamped one-field corruption, at a frame of a live folio (half the time, when there is
 * one) or at a random frame of a node; returns its description and how to put it back.
 */
function corrupt(
  m: Memmap,
  next: () => number,
  live: readonly number[],
): { what: string; undo: () => void } {
  const field = FIELDS[Math.floor(next() * FIELDS.length)]!;
  const array = m[field] as unknown as Int32Array;
  const nid = next() < 0.5 ? 0 : 1;
  const folio = live[Math.floor(next() * live.length)];
  const at =
    folio !== undefined && next() < 0.5
      ? folio + Math.floor(next() * (1 << m.order[folio]!))
      : m.nodeStart[nid]! + Math.floor(next() * (m.nodeEnd[nid]! - m.nodeStart[nid]!));
  const old = array[at]!;
  // An order stays one a frame can hold (below 32: the report shifts by it).
  const choices =
    field === 'order'
      ? [old + 1, Math.max(old - 1, 0), 0, 1, 2, 3, 9, 10]
      : [old + 1, old - 1, 0, 1, 2, 3, Math.floor(next() * m.maxPfn)];
  array[at] = choices[Math.floor(next() * choices.length)]!;
  markWritten(m, at);
  const undo = (): void => {
    array[at] = old;
    markWritten(m, at);
  };
  return { what: `${field}[${at}] ${old} -> ${array[at]}`, undo };
}

describe('the first pass on a machine taken as built (trustBuilt)', () => {
  test('random writes and a stamped corruption after the build: the report verdict, then on', () => {
    const next = seededRandom(2029);
    const recycler = new BufferRecycler();
    let previous: PhysicalMemory | null = null;
    let unsound = 0;
    let sound = 0;
    for (let trial = 0; trial < 300; trial++) {
      // Machines from one recycler, each released before the next: recycled and fresh
      // machines alike stand for the configuration's own.
      if (previous !== null) releasePhysicalMemory(previous);
      const mem = createPhysicalMemory(FROZEN, recycler);
      previous = mem;
      const m = memmapOf(mem);
      expect(m.builtFrom).toBe(FROZEN);
      expect([m.writeEpoch, m.soundEpoch]).toEqual([BUILT_EPOCH, 0]);
      const lists = [new FolioList(mem), new FolioList(mem), new FolioList(mem)];
      const live: number[] = [];
      const ops = Math.floor(next() * 40);
      for (let op = 0; op < ops; op++) randomOperation(mem, next, lists, live);
      const corruption = next() < 0.7 ? corrupt(m, next, live) : null;
      const label = `trial ${trial} after ${ops} operations, corruption ${corruption?.what ?? 'none'}`;
      const want = reportSound(mem);
      const got = physicalMemoryLooksSound(m, true, true);
      expect(got, label).toBe(want);
      if (!want) {
        unsound++;
        continue;
      }
      sound++;
      expect(m.soundEpoch, label).toBe(BUILT_EPOCH + 1);
      expect(samePages(mem), label).toBe(true);
      // Put back (stamped), the record the pass took from the build carries on: more writes,
      // incremental passes.
      corruption?.undo();
      expect(physicalMemoryLooksSound(m, true), `${label}, put back`).toBe(true);
      for (let op = 0; op < 10; op++) {
        randomOperation(mem, next, lists, live);
        expect(physicalMemoryLooksSound(m, true), `${label}, then op ${op}`).toBe(reportSound(mem));
        expect(samePages(mem), `${label}, then op ${op}`).toBe(true);
      }
    }
    expect(unsound).toBeGreaterThan(60);
    expect(sound).toBeGreaterThan(60);
  }, 120_000);

  test('through checkPhysicalMemory: the problems of the full check on a corrupted machine', () => {
    const mem = createPhysicalMemory(FROZEN);
    const m = memmapOf(mem);
    const f = folioAlloc(mem, 2, 1);
    expect(f).toBeGreaterThanOrEqual(0);
    m.refcount[f] = -3;
    markWritten(m, f);
    const problems = checkPhysicalMemory(mem, { incremental: true, trustBuilt: true });
    expect(problems).toEqual(reportPhysicalMemory(mem));
    expect(problems.length).toBeGreaterThan(0);
  });

  test('what it trusts: a raw write after the build is left to the full check', () => {
    const mem = createPhysicalMemory(FROZEN);
    const m = memmapOf(mem);
    // A free frame of a chunk no writer stamped since the build, written straight into the
    // arrays: the pass that takes the build for sound does not read it, the full one does.
    const free = m.maxPfn - 1;
    m.refcount[free] = 1;
    expect(physicalMemoryLooksSound(m, true, true)).toBe(true);
    expect(checkPhysicalMemory(mem).join('\n')).toMatch(/not clean/);
  });

  test('a machine of a configuration that is not frozen, or one already checked: read in full', () => {
    const config = { nodes: [{ pages: 4096, hugetlbPages: 2 }, { pages: 2048 }] };
    const loose = createPhysicalMemory(config);
    const m = memmapOf(loose);
    expect(m.builtFrom).toBe(null);
    m.refcount[m.maxPfn - 1] = 1;
    expect(physicalMemoryLooksSound(m, true, true)).toBe(false);

    const checked = createPhysicalMemory(FROZEN);
    const c = memmapOf(checked);
    // A failing first pass leaves no sound epoch: the next pass, trusting or not, reads all.
    c.refcount[c.maxPfn - 1] = 1;
    expect(physicalMemoryLooksSound(c, true)).toBe(false);
    expect(c.soundEpoch).toBe(0);
    expect(physicalMemoryLooksSound(c, true, true)).toBe(false);
    c.refcount[c.maxPfn - 1] = 0;
    expect(physicalMemoryLooksSound(c, true, true)).toBe(true);
  });
});
