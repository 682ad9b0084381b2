import { describe, expect, test } from 'vitest';
import {
  allocHugetlbFolio,
  FolioList,
  folioAlloc,
  folioPut,
  MEMORY_OFFLINE,
  MIGRATE_MOVABLE,
  type PhysicalMemory,
  startIsolatePageRange,
  takePageOffBuddy,
  undoIsolatePageRange,
} from '../src/index.js';
import {
  FRAME_BUDDY,
  FRAME_HEAD,
  type Memmap,
  memmapOf,
  WRITE_CHUNK_SHIFT,
} from '../src/memmap.js';
import { PAGEBLOCK_NR_PAGES } from '../src/pageblock.js';
import { richMemory, seededRandom } from './rich-memory.js';
import { expectFullVerdict } from './stamped-corruptions.js';

/*
 * The incremental memory-map check trusts a chunk of `1 << WRITE_CHUNK_SHIFT` frames that
 * no writer stamped since the last sound pass. That holds only if every writer stamps the
 * chunk of each frame whose block structure it changes, not a neighbouring frame's: with
 * 16-frame chunks a stamp one chunk off leaves the written frame to the full check alone.
 * These tests diff the frames around every operation of random walks through the package's
 * writers and require a stamp in the chunk of each frame that changed.
 */

/** The per-frame fields the incremental pass skips in an unstamped chunk (see sound.ts). */
const STRUCTURE = [
  'state',
  'order',
  'headOf',
  'nid',
  'folioType',
  'listId',
  'next',
  'prev',
  'freeKind',
] as const;

function takeSnapshot(m: Memmap): Int32Array[] {
  const arrays: Int32Array[] = STRUCTURE.map((f) => Int32Array.from(m[f] as ArrayLike<number>));
  if (m.hugeTemporary !== null) arrays.push(Int32Array.from(m.hugeTemporary));
  return arrays;
}

/**
 * The fields of frames that changed since `before` (`changed`), and those among them whose
 * chunk carries no stamp of epoch `since` or later, as "field[pfn]" strings (`unstamped`).
 */
function changesSince(
  m: Memmap,
  before: Int32Array[],
  since: number,
): { changed: number; unstamped: string[] } {
  const after = takeSnapshot(m);
  const unstamped: string[] = [];
  let changed = 0;
  for (let i = 0; i < after.length; i++) {
    const a = after[i]!;
    const b = before[i]!;
    for (let p = 0; p < a.length; p++) {
      if (a[p] === b[p]) continue;
      changed++;
      if (m.chunkEpoch[p >>> WRITE_CHUNK_SHIFT]! < since) {
        unstamped.push(`${STRUCTURE[i] ?? 'hugeTemporary'}[${p}]`);
      }
    }
  }
  return { changed, unstamped };
}

/** One random operation through the package's writers; returns its name. */
function randomOperation(
  mem: PhysicalMemory,
  next: () => number,
  lists: FolioList[],
  live: number[],
): string {
  const m = memmapOf(mem);
  const r = next();
  const pick = live[Math.floor(next() * live.length)];
  const on = pick === undefined ? undefined : lists.find((l) => l.has(pick));
  const list = lists[Math.floor(next() * lists.length)]!;
  if (r < 0.3 || pick === undefined) {
    const order = [0, 0, 0, 1, 2, 3, 4, 5, 9][Math.floor(next() * 9)]!;
    const f = folioAlloc(mem, order, next() < 0.5 ? 0 : 1);
    if (f >= 0) live.push(f);
    return `alloc order ${order}`;
  }
  if (r < 0.5) {
    if (on === undefined) list.addTail(pick);
    else if (on === list) list.del(pick);
    else if (next() < 0.5) on.moveTo(pick, list);
    else on.moveToTail(pick, list);
    return `list op on ${pick}`;
  }
  if (r < 0.55 && on !== undefined && on !== list) {
    on.spliceTailInit(list);
    return 'splice';
  }
  if (r < 0.8) {
    if (on !== undefined) on.del(pick);
    live.splice(live.indexOf(pick), 1);
    folioPut(mem, pick);
    return `free ${pick}`;
  }
  if (r < 0.85) {
    const pfn = Math.floor(next() * m.maxPfn);
    if (m.state[pfn] === FRAME_BUDDY || m.state[pfn] === FRAME_HEAD) takePageOffBuddy(mem, pfn);
    return `take ${pfn} off the buddy`;
  }
  if (r < 0.9) {
    const f = allocHugetlbFolio(mem, 0);
    if (f >= 0) live.push(f);
    return 'hugetlb alloc';
  }
  // Isolate a pageblock of node 0 and give it back (start/undo_isolate_page_range).
  const block = Math.floor(next() * 6) * PAGEBLOCK_NR_PAGES;
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
  return `isolate ${block}`;
}

describe('the writers stamp the chunk of every frame they change', () => {
  test('random walks of allocations, frees, list moves, hugetlb, memory failure and isolation', () => {
    const next = seededRandom(27);
    let ops = 0;
    let changed = 0;
    for (let run = 0; run < 6; run++) {
      const mem = richMemory();
      const m = memmapOf(mem);
      const lists = [new FolioList(mem), new FolioList(mem), new FolioList(mem)];
      const live: number[] = [];
      expect(expectFullVerdict(mem, 0, `run ${run} start`)).toBe(true);
      for (let op = 0; op < 150; op++) {
        const before = takeSnapshot(m);
        const since = m.writeEpoch;
        let name: string;
        try {
          name = randomOperation(mem, next, lists, live);
        } catch (e) {
          // A refused misuse (a folio already isolated, a block in use) changes nothing.
          name = `refused: ${(e as Error).message}`;
        }
        const label = `run ${run} op ${op}: ${name}`;
        const diff = changesSince(m, before, since);
        expect(diff.unstamped, label).toEqual([]);
        if (diff.changed > 0) changed++;
        ops++;
        // A legal state: the incremental pass must not reject it, and agrees with the full.
        expect(expectFullVerdict(mem, (op * 131) % m.maxPfn, label), label).toBe(true);
      }
    }
    expect(ops).toBe(900);
    expect(changed).toBeGreaterThan(500);
  }, 120_000);
});
