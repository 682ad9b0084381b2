import { FRAME_FREE, FRAME_HEAD, FRAME_TAIL } from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { mkPte, PAGE_SIZE, PMD_SIZE, PTE_PRESENT, PTRS_PER_PTE } from '../src/index.js';
import { checkRmap, checkRmapReference, type Mm, rmapStateOf } from '../src/internal.js';
import { createRmapMachine, runAndCheck } from '../src/testing/index.js';

/*
 * The full rmap check reads some things eight at a time: a page table's slots (their OR),
 * the tails of a large folio (their states, heads, mapcounts and PTE counts) and, in the
 * frame walk, the heads eight tails name. A corruption at any of the eight positions of
 * such a group must still be reported, exactly as `checkRmapReference` (frame by frame,
 * slot by slot) reports it.
 */

/** A PMD-mapped THP and a few anonymous pages (one page table), all written. */
function scene() {
  const m = createRmapMachine({ nodes: [8192, 8192] });
  const { vm } = m;
  const p = vm.createProcess('p');
  const thp = vm.mmap(p, { length: PMD_SIZE, hugepage: true });
  const anon = vm.mmap(p, { length: 4 * PAGE_SIZE });
  m.rt.spawn('main', 1, function* (): KernelGen {
    yield* vm.userWrite(p, thp, 1);
    for (let i = 0; i < 4; i++) yield* vm.userWrite(p, anon + i * PAGE_SIZE, i + 2);
  });
  runAndCheck(m);
  const ctx = rmapStateOf(vm);
  const mm = [...ctx.mms][0]!;
  const head = vm.lookupPte(p, thp).pfn;
  expect(vm.lookupPte(p, thp).level).toBe('pmd');
  const mem = memmapOf(ctx.mem);
  expect(mem.order[head]).toBe(9);
  return { m, vm, ctx, mm, mem, head, anon };
}

function tableOf(mm: Mm, addr: number) {
  return mm.pageTables.get(Math.floor(addr / PAGE_SIZE / PTRS_PER_PTE))!;
}

function poke(arr: { [i: number]: number }, i: number, value: number): () => void {
  const old = arr[i]!;
  arr[i] = value;
  return () => {
    arr[i] = old;
  };
}

/** The check finds something, and exactly what the reference finds. */
function expectFound(s: ReturnType<typeof scene>, pattern: RegExp): void {
  const found = checkRmap(s.ctx);
  expect(found.join('\n')).toMatch(pattern);
  expect(found).toEqual(checkRmapReference(s.ctx));
}

describe('the rmap check reads eight at a time without missing one', () => {
  it('an entry in each slot of an empty group of 8 slots, bit 31 alone too', () => {
    const s = scene();
    const t = tableOf(s.mm, s.anon);
    // An empty group of 8 slots after the scene's entries.
    let g = 0;
    while (t.ptes.subarray(g, g + 8).some((raw) => raw !== 0)) g += 8;
    for (const raw of [mkPte(s.head + 8, PTE_PRESENT), 0x8000_0000]) {
      for (let j = 0; j < 8; j++) {
        const undo = poke(t.ptes, g + j, raw);
        t.used++;
        const found = checkRmap(s.ctx);
        expect(found.length).toBeGreaterThan(0);
        expect(found).toEqual(checkRmapReference(s.ctx));
        t.used--;
        undo();
      }
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it("a THP tail's mapcount, at each position of a group of 8 and in the last group", () => {
    const s = scene();
    for (const p of [8, 9, 10, 11, 12, 13, 14, 15, 504, 511]) {
      const undo = poke(s.mem.mapcount, s.head + p, 1);
      expectFound(s, /mapcount 1, PTEs mapping it 0/);
      undo();
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it('a PTE mapping a THP tail, at each position of a group of 8', () => {
    const s = scene();
    const t = tableOf(s.mm, s.anon);
    const slot = Math.floor(s.anon / PAGE_SIZE) % PTRS_PER_PTE;
    for (let j = 0; j < 8; j++) {
      // The anonymous page's entry moved to a tail of the THP: its count goes to the tail.
      const undo = poke(t.ptes, slot, mkPte(s.head + 16 + j, PTE_PRESENT));
      expectFound(s, /mapcount 0, PTEs mapping it 1/);
      undo();
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it('a THP tail naming another head, at each position of a group of 8', () => {
    const s = scene();
    // Another head with an entire mapcount unlike the THP's (1), so that the tail's page
    // mapcount (its mapcount plus its head's entire mapcount) differs.
    const other = s.head + 512;
    for (let j = 0; j < 8; j++) {
      const undoHead = poke(s.mem.headOf, s.head + 24 + j, other);
      const undoEntire = poke(s.mem.entireMapcount, other, 3);
      expectFound(s, /mapcount 2, PTEs mapping it 0/);
      undoEntire();
      undoHead();
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it('a tail naming itself, at each position of a group of 8, thrown as the reference throws', () => {
    const s = scene();
    for (let j = 0; j < 8; j++) {
      const p = s.head + 32 + j;
      expect(s.mem.state[p]).toBe(FRAME_TAIL);
      const undo = poke(s.mem.headOf, p, p);
      expect(() => checkRmap(s.ctx)).toThrow();
      expect(() => checkRmapReference(s.ctx)).toThrow();
      undo();
    }
    // Every other tail of a group naming itself, the heads repeating in pairs.
    const first = s.head + 40;
    const undo = [1, 3, 5, 7].map((j) => poke(s.mem.headOf, first + j, first + 1));
    expect(() => checkRmap(s.ctx)).toThrow();
    expect(() => checkRmapReference(s.ctx)).toThrow();
    for (const u of undo) u();
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it("a tail naming itself in a mapped THP's first or last group or just past the THP, where the walk passes over the groups checkLargeFolio told", () => {
    const s = scene();
    for (const p of [8, 9, 10, 11, 12, 13, 14, 15, 504, 505, 506, 507, 508, 509, 510, 511]) {
      const undo = poke(s.mem.headOf, s.head + p, s.head + p);
      expect(() => checkRmap(s.ctx)).toThrow();
      expect(() => checkRmapReference(s.ctx)).toThrow();
      undo();
    }
    // The frames after the THP made tails, one of them naming itself.
    const past = s.head + 512;
    for (let j = 0; j < 8; j++) {
      const undo = [past, past + 1, past + 2, past + 3, past + 4, past + 5, past + 6, past + 7]
        .flatMap((q) => [poke(s.mem.state, q, FRAME_TAIL), poke(s.mem.headOf, q, s.head)])
        .concat(poke(s.mem.headOf, past + j, past + j));
      expect(() => checkRmap(s.ctx)).toThrow();
      expect(() => checkRmapReference(s.ctx)).toThrow();
      for (const u of undo.reverse()) u();
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it('a live folio in a run of free words, at each position of a word, at the ends of both nodes', () => {
    const s = scene();
    // Free frames (runs of words start after each buddy block's first frame): a run's first
    // word, node 0's last, the middle of a run, the machine's last.
    for (const first of [7176, 7184, 8184, 8728, 12000, 16376]) {
      for (let j = 0; j < 8; j++) {
        const p = first + j;
        expect(s.mem.state[p]).toBe(FRAME_FREE);
        const undo = [
          poke(s.mem.state, p, FRAME_HEAD),
          poke(s.mem.order, p, 0),
          poke(s.mem.headOf, p, p),
          poke(s.mem.refcount, p, -1),
        ];
        expectFound(s, /refcount -1 below the 0/);
        for (const u of undo.reverse()) u();
      }
    }
    // A word of tails in a run of free words, one of them naming itself.
    for (let j = 0; j < 8; j++) {
      const undo = [0, 1, 2, 3, 4, 5, 6, 7]
        .flatMap((q) => [
          poke(s.mem.state, 12000 + q, FRAME_TAIL),
          poke(s.mem.headOf, 12000 + q, s.head),
        ])
        .concat(poke(s.mem.headOf, 12000 + j, 12000 + j));
      expect(() => checkRmap(s.ctx)).toThrow();
      expect(() => checkRmapReference(s.ctx)).toThrow();
      for (const u of undo.reverse()) u();
    }
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });
});
