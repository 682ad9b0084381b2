import { describe, expect, test } from 'vitest';
import {
  delFromFreeList,
  freeOneBlock,
  freeSlotOf,
  prepNewFolio,
  resetFrames,
} from '../src/buddy.js';
import {
  checkPhysicalMemory,
  FolioList,
  folioAlloc,
  folioClearFlag,
  folioPut,
  folioRefAdd,
  folioRefSub,
  folioSetFlag,
  PG_dirty,
  pageMapcountDec,
  pageMapcountInc,
  takePageOffBuddy,
} from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import {
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_TAIL,
  type Memmap,
  markWritten,
  memmapOf,
  setMappingObj,
  WRITE_CHUNK_SHIFT,
} from '../src/memmap.js';
import { richMemory, seededRandom } from './rich-memory.js';
import { expectFullVerdict, stampedCorruptions } from './stamped-corruptions.js';

/*
 * The incremental memory-map check (`checkPhysicalMemory(mem, { incremental: true })`)
 * reads again only the blocks and folios with a frame stamped by a writer since the last
 * sound pass. Its promise: the same verdict as the full check for every write that went
 * through the package's writers (which stamp); a write straight into the arrays is seen
 * by the full check only.
 */

const PER_PFN = [
  'state',
  'flags',
  'refcount',
  'mapcount',
  'entireMapcount',
  'totalMapcount',
  'order',
  'headOf',
  'nid',
  'folioType',
  'mappingId',
  'listId',
  'next',
  'prev',
  'freeKind',
] as const;

/** Frames of `state` in `m` (all of them). */
function framesIn(m: Memmap, state: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < m.maxPfn; p++) if (m.state[p] === state) out.push(p);
  return out;
}

describe('incremental memory-map check', () => {
  test('2,000 one-field corruptions a writer stamped: the full verdict each time', () => {
    const { disagreements, unsound } = stampedCorruptions(
      23,
      2000,
      PER_PFN,
      [0, 1, 2, 9, 11, 12],
      () => {
        const m = memmapOf(richMemory());
        // A sound full pass first, so that the incremental one has something to skip.
        expect(physicalMemoryLooksSound(m)).toBe(true);
        return m;
      },
    );
    expect(disagreements).toEqual([]);
    expect(unsound).toBeGreaterThan(500);
  }, 120_000);

  test('a random walk of operations with corruptions by internal writers: the full verdict after each', () => {
    const next = seededRandom(5);
    let found = 0;
    for (let run = 0; run < 80; run++) {
      const mem = richMemory();
      const m = memmapOf(mem);
      const list = new FolioList(mem);
      const live: number[] = [];
      for (let op = 0; op < 60; op++) {
        const r = next();
        const free = framesIn(m, FRAME_FREE);
        if (r < 0.3) {
          const f = folioAlloc(mem, Math.floor(next() * 4), next() < 0.5 ? 0 : 1);
          if (f >= 0) live.push(f);
        } else if (r < 0.5 && live.length > 0) {
          const f = live.splice(Math.floor(next() * live.length), 1)[0]!;
          if (list.has(f)) list.del(f);
          folioPut(mem, f);
        } else if (r < 0.6 && live.length > 0) {
          const f = live[Math.floor(next() * live.length)]!;
          if (list.has(f)) list.del(f);
          else list.addTail(f);
        } else if (r < 0.7 && live.length > 0) {
          const f = live[Math.floor(next() * live.length)]!;
          // The setters that do not stamp (see `markWritten`).
          pageMapcountInc(mem, f);
          folioRefAdd(mem, f, 1);
          folioSetFlag(mem, f, PG_dirty);
          if (next() < 0.5) {
            pageMapcountDec(mem, f);
            folioRefSub(mem, f, 1);
            folioClearFlag(mem, f, PG_dirty);
          }
        } else if (r < 0.75 && free.length > 0) {
          const p = free[Math.floor(next() * free.length)]!;
          if (takePageOffBuddy(mem, p)) live.push(p);
        } else if (r < 0.8) {
          // Corruptions a buggy caller of the internal writers would make (all stamped).
          const kind = Math.floor(next() * 5);
          const tails = framesIn(m, FRAME_TAIL);
          const blocks = framesIn(m, FRAME_BUDDY);
          if (kind === 0 && free.length > 0) {
            setMappingObj(m, free[Math.floor(next() * free.length)]!, {});
          } else if (kind === 1 && tails.length > 0) {
            resetFrames(m, tails[Math.floor(next() * tails.length)]!, 1);
          } else if (kind === 2 && free.length > 0) {
            prepNewFolio(m, free[Math.floor(next() * free.length)]!, 0, 0);
          } else if (kind === 3 && blocks.length > 0) {
            const b = blocks[Math.floor(next() * blocks.length)]!;
            delFromFreeList(m, b, freeSlotOf(m, b));
          } else if (kind === 4 && live.length > 0) {
            const f = live[Math.floor(next() * live.length)]!;
            if (!list.has(f)) freeOneBlock(m, f, m.order[f]!, false);
          }
        }
        if (!expectFullVerdict(mem, (op * 97) % m.maxPfn, `run ${run} op ${op}`)) {
          found++;
          break;
        }
      }
    }
    // Most runs end at a corruption the checks find (the others did only legal things).
    expect(found).toBeGreaterThan(40);
  }, 120_000);

  test('it skips what no writer changed: a raw write into a free block is left to the full check', () => {
    const mem = richMemory();
    const m = memmapOf(mem);
    expect(checkPhysicalMemory(mem)).toEqual([]);
    const p = framesIn(m, FRAME_FREE).at(-1)!;
    m.refcount[p] = 1;
    // Not stamped: the incremental pass does not read the block again; the full one does.
    expect(checkPhysicalMemory(mem, { incremental: true })).toEqual([]);
    expect(checkPhysicalMemory(mem).join('\n')).toMatch(/is not clean/);
    // Stamped, as the writers do: the incremental pass finds it too.
    markWritten(m, p);
    expect(checkPhysicalMemory(mem, { incremental: true })).toEqual(reportPhysicalMemory(mem));
  });

  test('a large free block is read again only in its stamped chunks', () => {
    const mem = richMemory();
    const m = memmapOf(mem);
    expect(checkPhysicalMemory(mem)).toEqual([]);
    // A free block of 64 frames or more (four chunks at least), its first frame and two
    // frames of other chunks inside it.
    const head = framesIn(m, FRAME_BUDDY).find((p) => m.order[p]! >= WRITE_CHUNK_SHIFT + 2)!;
    expect(head).toBeDefined();
    const chunk = 1 << WRITE_CHUNK_SHIFT;
    const stamped = head + chunk + 3;
    const raw = head + 3 * chunk + 5;
    // A stamped problem in one chunk and a raw one in another: the incremental pass finds
    // the stamped one (and then reports as the full check does, both).
    m.refcount[stamped] = 1;
    markWritten(m, stamped);
    m.mapcount[raw] = 1;
    const incremental = checkPhysicalMemory(mem, { incremental: true });
    expect(incremental.join('\n')).toMatch(new RegExp(`\\b${stamped}\\b`));
    expect(incremental.join('\n')).toMatch(/is not clean/);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
    // Repaired through a stamp: the incremental pass no longer reads the raw write's chunk
    // (unstamped since the last sound pass); only the full pass finds it.
    m.refcount[stamped] = 0;
    markWritten(m, stamped);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    markWritten(m, head);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    expect(physicalMemoryLooksSound(m)).toBe(false);
    // Stamped: found by the incremental pass too.
    markWritten(m, raw);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
  });

  test('a pass that finds a problem keeps the stamps: the next incremental pass finds it again', () => {
    const mem = richMemory();
    const m = memmapOf(mem);
    expect(checkPhysicalMemory(mem)).toEqual([]);
    const p = framesIn(m, FRAME_FREE)[0]!;
    setMappingObj(m, p, {});
    const first = checkPhysicalMemory(mem, { incremental: true });
    expect(first.length).toBeGreaterThan(0);
    expect(checkPhysicalMemory(mem, { incremental: true })).toEqual(first);
    setMappingObj(m, p, null);
    expect(checkPhysicalMemory(mem, { incremental: true })).toEqual([]);
  });

  test('the first pass of a machine reads everything', () => {
    const mem = richMemory();
    const m = memmapOf(mem);
    // A raw write before any sound pass: nothing is known sound yet, so it is found.
    m.flags[framesIn(m, FRAME_FREE).at(-1)!] = 1;
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
  });
});
