import { describe, expect, test } from 'vitest';
import { freeOneBlock, resetFrames } from '../src/buddy.js';
import {
  checkPhysicalMemory,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioPagesByNode,
  folioPut,
  MIGRATE_CMA,
  type PhysicalMemory,
  pfnFolio,
  setPageblockMigratetype,
} from '../src/index.js';
import { physicalMemoryLooksSound } from '../src/internal.js';
import {
  CHUNK_SUMMARY_WORDS,
  SUMMARY_FREE,
  SUMMARY_SEG,
  walkRecord,
} from '../src/invariants/chunk-summary.js';
import {
  FRAME_HEAD,
  type Memmap,
  markWritten,
  memmapOf,
  WRITE_CHUNK_SHIFT,
} from '../src/memmap.js';
import { seededRandom } from './rich-memory.js';
import { expectFullVerdict, stampedCorruptions } from './stamped-corruptions.js';

/*
 * The incremental memory-map check does not visit a stored segment (a run of 16-frame
 * chunks between two block boundaries) that no writer stamped since the last sound pass
 * (invariants/chunk-summary.ts). Its promise is the incremental check's: the full check's
 * verdict for every write made through the package's writers (which stamp, the folio lists
 * included).
 */

/**
 * Two nodes full of small folios (orders 0-3), most on one of three lists per 256 frames
 * (a few on a fourth: those chunks are not summarised), with free blocks between them.
 */
function busyMemory(seed: number): { mem: PhysicalMemory; lists: FolioList[]; live: number[] } {
  const next = seededRandom(seed);
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
  const lists = Array.from({ length: 5 }, () => new FolioList(mem));
  const all: number[] = [];
  for (let i = 0; i < 560; i++) {
    const f = folioAlloc(mem, Math.floor(next() * 4), next() < 0.5 ? 0 : 1);
    if (f < 0) continue;
    all.push(f);
    const r = next();
    const l = r < 0.02 ? 3 : r < 0.3 ? -1 : Math.floor(next() * 3);
    if (l >= 0) lists[(l + Math.floor(f / 256)) % 5]!.addTail(f);
  }
  const live: number[] = [];
  for (const f of all) {
    if (next() < 0.12) {
      const on = lists.find((l) => l.has(f));
      if (on !== undefined) on.del(f);
      folioPut(mem, f);
    } else live.push(f);
  }
  return { mem, lists, live };
}

/** Whether chunk `c` is in a stored segment the next incremental pass would not visit. */
function skipped(m: Memmap, c: number): boolean {
  const r = walkRecord(m);
  return (
    r.valid &&
    m.chunkEpoch[c]! < m.soundEpoch &&
    (r.words[c * CHUNK_SUMMARY_WORDS + SUMMARY_SEG]! & 1) === 0
  );
}

/** The chunks of the nodes an incremental pass would not visit now. */
function summarisedChunks(m: Memmap): number {
  let n = 0;
  for (let nid = 0; nid < m.nrNodes; nid++) {
    const last = (m.nodeEnd[nid]! - 1) >>> WRITE_CHUNK_SHIFT;
    for (let c = m.nodeStart[nid]! >>> WRITE_CHUNK_SHIFT; c <= last; c++) if (skipped(m, c)) n++;
  }
  return n;
}

const PER_PFN = [
  'state',
  'flags',
  'refcount',
  'mapcount',
  'totalMapcount',
  'order',
  'headOf',
  'nid',
  'folioType',
  'listId',
  'next',
  'prev',
  'freeKind',
] as const;

describe('chunk summaries of the incremental memory-map check', () => {
  test('a sound pass summarises most chunks; the next walks none of them', () => {
    const { mem } = busyMemory(1);
    const m = memmapOf(mem);
    expect(summarisedChunks(m)).toBe(0);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    expect(summarisedChunks(m)).toBeGreaterThan(16);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    expect(summarisedChunks(m)).toBeGreaterThan(16);
    const used = new Float64Array(2);
    const usedFull = new Float64Array(2);
    folioPagesByNode(mem, used, true);
    folioPagesByNode(mem, usedFull);
    expect([...used]).toEqual([...usedFull]);
    expect(used[0]).toBeGreaterThan(0);
  });

  test('1,000 one-field corruptions a writer stamped in a summarised memory: the full verdict each time', () => {
    const { disagreements, unsound } = stampedCorruptions(
      41,
      1000,
      PER_PFN,
      [0, 1, 2, 9, 11],
      (trial) => {
        const m = memmapOf(busyMemory(trial).mem);
        expect(physicalMemoryLooksSound(m)).toBe(true);
        expect(physicalMemoryLooksSound(m, true)).toBe(true);
        return m;
      },
    );
    expect(disagreements).toEqual([]);
    expect(unsound).toBeGreaterThan(300);
  }, 120_000);

  test('list operations and stamped corruptions around summarised chunks: the full verdict after each', () => {
    const next = seededRandom(9);
    let found = 0;
    let skipped = 0;
    for (let run = 0; run < 40; run++) {
      const { mem, lists, live } = busyMemory(1000 + run);
      const m = memmapOf(mem);
      expect(physicalMemoryLooksSound(m)).toBe(true);
      for (let op = 0; op < 80; op++) {
        const r = next();
        const f = live[Math.floor(next() * live.length)];
        const list = lists[Math.floor(next() * lists.length)]!;
        const on = f === undefined ? undefined : lists.find((l) => l.has(f));
        if (f === undefined) break;
        if (r < 0.35) {
          // Moves between lists: each changes the links of the folio and its neighbours.
          if (on === undefined) list.addTail(f);
          else if (on === list) list.del(f);
          else if (next() < 0.5) on.moveTo(f, list);
          else on.moveToTail(f, list);
        } else if (r < 0.45 && on === undefined) {
          live.splice(live.indexOf(f), 1);
          folioPut(mem, f);
        } else if (r < 0.5) {
          const g = folioAlloc(mem, Math.floor(next() * 3), next() < 0.5 ? 0 : 1);
          if (g >= 0) live.push(g);
        } else if (r < 0.53 && on !== undefined && on !== list) {
          on.spliceTailInit(list);
        } else if (r < 0.56 && on !== undefined) {
          // A listed folio freed or reset behind its list's back (a stamped writer): the
          // neighbours' links in other chunks now dangle.
          if (next() < 0.5) freeOneBlock(m, f, m.order[f]!, false);
          else resetFrames(m, f, 1);
        }
        if (summarisedChunks(m) > 0) skipped++;
        if (!expectFullVerdict(mem, (op * 97) % m.maxPfn, `run ${run} op ${op}`)) {
          found++;
          break;
        }
      }
    }
    expect(found).toBeGreaterThan(20);
    expect(skipped).toBeGreaterThan(500);
  }, 120_000);

  test('a pass that finds a problem leaves no record: the next incremental pass walks every segment', () => {
    const { mem, live } = busyMemory(5);
    const m = memmapOf(mem);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    expect(summarisedChunks(m)).toBeGreaterThan(16);
    const late = live.filter((f) => m.nid[f] === 1).at(-1) as number;
    const early = live.find((f) => m.nid[f] === 0) as number;
    // A stamped problem at the end of node 1, and a harmless stamped write early in node 0.
    m.refcount[late] = -1;
    markWritten(m, late);
    markWritten(m, early);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
    expect(walkRecord(m).valid).toBe(false);
    expect(summarisedChunks(m)).toBe(0);
    // Repaired; and a new problem early: the next incremental pass rebuilds and finds it.
    m.refcount[late] = 1;
    markWritten(m, late);
    m.refcount[early] = -1;
    markWritten(m, early);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
    expect(physicalMemoryLooksSound(m)).toBe(false);
    // Repaired again: sound both ways, and the record is back.
    m.refcount[early] = 1;
    markWritten(m, early);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    expect(summarisedChunks(m)).toBeGreaterThan(16);
    expect(physicalMemoryLooksSound(m)).toBe(true);
  });

  test('a raw write into a summarised chunk is left to the full check', () => {
    const { mem, live } = busyMemory(3);
    const m = memmapOf(mem);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    const f = live.find(
      (x) => m.order[x] === 0 && skipped(m, x >>> WRITE_CHUNK_SHIFT) && m.listId[x] !== 0,
    );
    expect(f).toBeDefined();
    const folio = f as number;
    expect(m.state[folio]).toBe(FRAME_HEAD);
    // The node of a folio written straight into the arrays: no stamp, the summary stands.
    m.nid[folio] = 1 - m.nid[folio]!;
    expect(checkPhysicalMemory(mem, { incremental: true })).toEqual([]);
    expect(checkPhysicalMemory(mem).length).toBeGreaterThan(0);
    // The same write stamped, as a writer would: found by the incremental pass too.
    markWritten(m, folio);
    expect(checkPhysicalMemory(mem, { incremental: true }).length).toBeGreaterThan(0);
    expect(pfnFolio(mem, folio)).toBe(folio);
  });

  test('a stored segment is not taken once a pageblock changed kind', () => {
    const { mem } = busyMemory(4);
    const m = memmapOf(mem);
    expect(physicalMemoryLooksSound(m)).toBe(true);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    // A chunk of a stored segment with free pages, not visited by the next pass.
    const words = walkRecord(m).words;
    let c = 0;
    while (
      c < m.chunkEpoch.length &&
      !(
        skipped(m, c) &&
        words[c * CHUNK_SUMMARY_WORDS + SUMMARY_SEG]! === c << 1 &&
        words[c * CHUNK_SUMMARY_WORDS + SUMMARY_FREE]! > 0
      )
    )
      c++;
    expect(c).toBeLessThan(m.chunkEpoch.length);
    // The block's kind changed by the writer (set_pageblock_migratetype), which stamps no
    // chunk: its free pages stay on the normal lists, so the block is unsound now.
    setPageblockMigratetype(mem, c << WRITE_CHUNK_SHIFT, MIGRATE_CMA);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
    expect(physicalMemoryLooksSound(m)).toBe(false);
  });
});
