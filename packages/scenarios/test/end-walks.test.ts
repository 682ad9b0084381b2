import {
  type Folio,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_HOLE,
  FRAME_POOL_TAIL,
  FRAME_TAIL,
  folioAlloc,
  folioNrPages,
  folioRefCount,
  folioSetFlag,
  frameView,
  nodeSpannedPages,
  nodeStartPfn,
  PG_locked,
  PG_writeback,
} from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { mkMigrationEntry, mkPte, PTE_PRESENT, SWP_MIGRATION_WRITE } from '@mmsim/rmap';
import { describe, expect, it } from 'vitest';
import {
  KERNEL_INVARIANT_NAMES,
  type KernelInvariantName,
  kernelInvariants,
} from '../src/index.js';
import { FolioWalk } from '../src/invariants/folios.js';

/*
 * The end checks' walks read memory a word at a time (`FolioWalk`: eight free frames, or
 * four frames with no head or tail; no-migration-entry-at-end: two empty page-table entries).
 * Here they are compared with the frame-by-frame forms on states written into the arrays
 * at every offset of a word, and the end checks are run both ways: a corruption the walk
 * must reach is found, a legal state passes.
 */

/** The frames the frame-by-frame walk visited (heads, tails naming themselves), and its throw. */
function visitedFrameByFrame(k: Kernel): string {
  const mem = k.mem;
  const { state, order, headOf } = frameView(mem);
  const out: string[] = [];
  try {
    for (let nid = 0; nid < mem.nrNodes; nid++) {
      const start = nodeStartPfn(mem, nid);
      const end = start + nodeSpannedPages(mem, nid);
      for (let pfn = start; pfn < end; ) {
        const s = state[pfn];
        if (s === FRAME_HEAD) {
          out.push(String(pfn));
          pfn += 1 << order[pfn]!;
        } else if (s === FRAME_TAIL && headOf[pfn] === pfn) {
          out.push(String(pfn));
          pfn += folioNrPages(mem, pfn);
        } else pfn++;
      }
    }
  } catch (error) {
    out.push(`threw ${(error as Error).message}`);
  }
  return out.join(',');
}

function visitedByWalk(k: Kernel): string {
  const out: string[] = [];
  try {
    const walk = new FolioWalk(k.mem);
    for (let f = walk.first(); f >= 0; f = walk.next(f)) out.push(String(f));
  } catch (error) {
    out.push(`threw ${(error as Error).message}`);
  }
  return out.join(',');
}

/** Two nodes, the second one's end off a word boundary, a few folios of several orders. */
function machine(): { k: Kernel; folios: Folio[] } {
  const k = createKernel({ nodes: [{ pages: 256 }, { pages: 64 + 3 }] });
  const folios: Folio[] = [];
  for (const [order, nid] of [
    [0, 0],
    [2, 0],
    [0, 0],
    [3, 1],
    [0, 1],
    [1, 1],
  ] as const) {
    folios.push(folioAlloc(k.mem, order, nid) as Folio);
  }
  return { k, folios };
}

/** Free frames of `k`: state FREE, in word-aligned runs and off them. */
function freeFrames(k: Kernel): number[] {
  const { state } = frameView(k.mem);
  const out: number[] = [];
  for (let pfn = 0; pfn < state.length; pfn++) if (state[pfn] === FRAME_FREE) out.push(pfn);
  return out;
}

describe('FolioWalk visits the frames the frame-by-frame walk visited', () => {
  it('on a sound machine: every folio, in pfn order, across both nodes', () => {
    const { k, folios } = machine();
    const walked = visitedByWalk(k);
    expect(walked).toBe(visitedFrameByFrame(k));
    for (const f of folios) expect(walked.split(',')).toContain(String(f));
  });

  it('finds a head or a self-named tail written at any offset of a free word, stepping over other states', () => {
    const { k } = machine();
    const m = memmapOf(k.mem);
    const free = freeFrames(k);
    // Every offset within a word of eight, on both nodes, and the last frames of node 1
    // (whose end is not on a word boundary).
    const end1 = nodeStartPfn(k.mem, 1) + nodeSpannedPages(k.mem, 1);
    const perOffset = new Map<string, number>();
    const targets = free.filter((pfn) => {
      const key = `${pfn < end1 - 64 ? 0 : 1} ${pfn % 8}`;
      const n = perOffset.get(key) ?? 0;
      perOffset.set(key, n + 1);
      return n < 2 || pfn >= end1 - 5;
    });
    const offsets = new Set(targets.map((p) => p % 8));
    expect(offsets.size).toBe(8);
    let cases = 0;
    for (const pfn of targets) {
      const saved = [m.state[pfn]!, m.order[pfn]!, m.headOf[pfn]!] as const;
      for (const [state, order, head] of [
        [FRAME_HEAD, 0, pfn],
        [FRAME_TAIL, 0, pfn], // names itself: visited, then `next` throws
        [FRAME_TAIL, 0, pfn - 1], // another tail: stepped over
        [FRAME_POOL_TAIL, 0, -1],
        [FRAME_HOLE, 0, -1],
      ] as const) {
        m.state[pfn] = state;
        m.order[pfn] = order;
        m.headOf[pfn] = head;
        const before = visitedFrameByFrame(k);
        expect(visitedByWalk(k), `pfn ${pfn} state ${state} head ${head}`).toBe(before);
        if (state === FRAME_HEAD) expect(before.split(',')).toContain(String(pfn));
        if (state === FRAME_TAIL && head === pfn) expect(before).toMatch(/threw/);
        cases++;
      }
      [m.state[pfn], m.order[pfn], m.headOf[pfn]] = saved;
    }
    expect(cases).toBeGreaterThan(40);
    expect(visitedByWalk(k)).toBe(visitedFrameByFrame(k));
  });
});

describe('the end checks through the word-at-a-time walks', () => {
  it('no-lock-held-at-end: passes unlocked folios, reports locked and writeback ones anywhere', () => {
    const { k, folios } = machine();
    const [inv] = kernelInvariants(k, { only: ['no-lock-held-at-end'] });
    expect(inv!.check('end')).toBeNull();
    const last = folios[folios.length - 1]!;
    folioSetFlag(k.mem, last, PG_writeback);
    folioSetFlag(k.mem, folios[0]!, PG_locked);
    expect(inv!.check('end')).toBe(
      `folio ${folios[0]} is still locked (owner nobody) (and 1 more)`,
    );
  });

  it('no-lock-held-at-end: a locked head written into a free run is reached', () => {
    const { k } = machine();
    const m = memmapOf(k.mem);
    const [inv] = kernelInvariants(k, { only: ['no-lock-held-at-end'] });
    // Inside a run of free frames, off a word boundary.
    const pfn = freeFrames(k).find((p) => p % 8 === 5 && p > 128)!;
    m.state[pfn] = FRAME_HEAD;
    m.order[pfn] = 0;
    m.headOf[pfn] = pfn;
    m.flags[pfn] = 1 << PG_locked;
    expect(inv!.check('end')).toBe(`folio ${pfn} is still locked (owner nobody)`);
  });

  it('frames-conserved at the end: passes held references, reports a leaked one', () => {
    const { k, folios } = machine();
    const [inv] = kernelInvariants(k, { only: ['frames-conserved'] });
    // Nothing maps or caches the folios: each holds only its allocation's reference,
    // which nothing accounts for, so every one is reported as leaked.
    const message = inv!.check('end');
    expect(message).toMatch(new RegExp(`^folio ${folios[0]} \\(node 0, order 0\\) has refcount 1`));
    expect(message).toMatch(new RegExp(`\\(and ${folios.length - 1} more\\)$`));
    // Dropped to what the owners hold (none): sound.
    const m = memmapOf(k.mem);
    for (const f of folios) m.refcount[f] = 0;
    expect(folioRefCount(k.mem, folios[3]!)).toBe(0);
    expect(inv!.check('end')).toBeNull();
    // One of them, on node 1, leaks again.
    m.refcount[folios[4]!] = 2;
    expect(inv!.check('end')).toMatch(
      new RegExp(`^folio ${folios[4]} \\(node 1, order 0\\) has refcount 2 but .* hold 0`),
    );
  });

  it('no-migration-entry-at-end: finds an entry in either half of a word, passes other entries', () => {
    const k = createKernel({ nodes: [{ pages: 64 }] });
    const mm = k.vm.createProcess('p');
    const table = (
      mm as unknown as {
        pageTable(i: number): { ptes: Uint32Array; set(v: number, p: number): void };
      }
    ).pageTable(3);
    const [inv] = kernelInvariants(k, { only: ['no-migration-entry-at-end'] });
    const entry = mkMigrationEntry(5, SWP_MIGRATION_WRITE, false, false, false);
    // Legal: present entries, and an entry with only the top bit set next to an empty one
    // (a word that reads as -0).
    table.set(3 * 512 + 10, mkPte(5, PTE_PRESENT));
    table.set(3 * 512 + 301, 0x80000000);
    expect(inv!.check('end')).toBeNull();
    for (const slot of [0, 1, 254, 255, 511]) {
      table.set(3 * 512 + slot, entry);
      const addr = (3 * 512 + slot) * 4096;
      expect(inv!.check('end')).toBe(`${mm} 0x${addr.toString(16)} still holds a migration entry`);
      table.set(3 * 512 + slot, 0);
    }
    expect(inv!.check('end')).toBeNull();
  });
});

describe('kernelInvariants', () => {
  it('builds every invariant in order without `only`, the listed ones in that order with it', () => {
    const k = createKernel({ nodes: [{ pages: 64 }] });
    expect(kernelInvariants(k).map((inv) => inv.name)).toEqual([...KERNEL_INVARIANT_NAMES]);
    expect(
      kernelInvariants(k, { only: ['no-lock-held-at-end', 'nr-isolated'] }).map((inv) => inv.name),
    ).toEqual(['nr-isolated', 'no-lock-held-at-end']);
    expect(() =>
      kernelInvariants(k, { only: ['nr-isolated', 'no-such' as KernelInvariantName] }),
    ).toThrow(/no-such is not a kernel invariant/);
  });
});
