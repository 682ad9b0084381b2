import { type Folio, PG_anon_exclusive, PG_locked } from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MAP_SHARED,
  mkMigrationEntry,
  mkPte,
  PAGE_SIZE,
  PMD_SIZE,
  PTE_PRESENT,
  PTE_WRITE,
  PTRS_PER_PTE,
  ptePfn,
  SWP_MIGRATION_READ,
} from '../src/index.js';
import { checkRmap, checkRmapReference, type Mm, rmapStateOf } from '../src/internal.js';
import { createRmapMachine, runAndCheck } from '../src/testing/index.js';

/*
 * Each kind of problem the rmap check knows, injected into a machine at rest: `checkRmap`
 * reports it (and exactly what `checkRmapReference`, the first implementation, reports),
 * and once the corruption is undone the machine is sound again. The legal states of
 * concurrent operations it accepts are in invariants.test.ts.
 */

/**
 * A parent with 8 written anonymous pages and a forked child sharing them, then the
 * parent writes page 0 again (a copy of its own, writable, in CPU 1's TLB); a shared
 * file page.
 */
function scene() {
  const m = createRmapMachine();
  const { vm } = m;
  const parent = vm.createProcess('parent');
  const file = vm.createFile('data', { content: [1, 2] });
  const anon = vm.mmap(parent, { length: 8 * PAGE_SIZE });
  const shared = vm.mmap(parent, { length: 2 * PAGE_SIZE, flags: MAP_SHARED, file });
  // Never touched: room for a PMD-sized entry.
  const big = vm.mmap(parent, { length: 2 * PMD_SIZE });
  m.rt.spawn('main', 1, function* (): KernelGen {
    for (let i = 0; i < 8; i++) yield* vm.userWrite(parent, anon + i * PAGE_SIZE, i + 1);
    yield* vm.userWrite(parent, shared, 7);
    yield* vm.fork(parent, 'child');
    yield* vm.userWrite(parent, anon, 9);
  });
  runAndCheck(m);
  const ctx = rmapStateOf(vm);
  const mmOf = (name: string) => [...ctx.mms].find((mm) => mm.name === name)!;
  return { m, vm, ctx, parent: mmOf('parent'), anon, shared, big };
}

type Scene = ReturnType<typeof scene>;

function tableOf(mm: Mm, addr: number) {
  return mm.pageTables.get(Math.floor(addr / PAGE_SIZE / PTRS_PER_PTE))!;
}

function slotOf(addr: number): number {
  return Math.floor(addr / PAGE_SIZE) % PTRS_PER_PTE;
}

/** Sets a PTE until the undo, keeping the table's use count. */
function setPte(mm: Mm, addr: number, raw: number): () => void {
  const t = tableOf(mm, addr);
  const i = slotOf(addr);
  const [old, used] = [t.ptes[i]!, t.used];
  t.ptes[i] = raw;
  t.used = used + (old === 0 ? 1 : 0) - (raw === 0 ? 1 : 0);
  return () => {
    t.ptes[i] = old;
    t.used = used;
  };
}

function poke(arr: { [i: number]: number }, i: number, value: number): () => void {
  const old = arr[i]!;
  arr[i] = value;
  return () => {
    arr[i] = old;
  };
}

function pfnAt(s: Scene, addr: number): number {
  return ptePfn(tableOf(s.parent, addr).ptes[slotOf(addr)]!);
}

/** A free frame of node 1 (the scene's pages are on node 0). */
function freeFrame(s: Scene): number {
  const m = memmapOf(s.ctx.mem);
  for (let pfn = m.maxPfn - 1; pfn > 0; pfn--) if (m.state[pfn] === 1) return pfn;
  throw new Error('no free frame');
}

interface Case {
  readonly name: string;
  readonly expected: RegExp;
  readonly quiescent?: boolean;
  corrupt(s: Scene): () => void;
}

const CASES: readonly Case[] = [
  {
    name: 'a PTE outside every VMA',
    expected: /parent 0x[0-9a-f]+: present .* outside every VMA/,
    corrupt: (s) => {
      const t = tableOf(s.parent, s.anon);
      let addr = t.base;
      while (s.parent.vmaLookup(addr) !== null) addr += PAGE_SIZE;
      return setPte(s.parent, addr, mkPte(pfnAt(s, s.anon), 0));
    },
  },
  {
    name: 'a PTE to a free frame',
    expected: /points at a frame that is not a live folio/,
    corrupt: (s) => setPte(s.parent, s.anon, mkPte(freeFrame(s), PTE_PRESENT)),
  },
  {
    name: 'the zero page mapped writable',
    expected: /the zero page is mapped writable/,
    corrupt: (s) => setPte(s.parent, s.anon, mkPte(s.ctx.mem.zeroPfn, PTE_PRESENT | PTE_WRITE)),
  },
  {
    name: 'a huge PMD to an order-0 folio',
    expected: /a huge PMD maps pfn 0x[0-9a-f]+, not the head of a THP/,
    corrupt: (s) => {
      const key = Math.ceil(s.big / PMD_SIZE);
      s.parent.pmds.set(key, mkPte(pfnAt(s, s.anon), PTE_PRESENT));
      return () => s.parent.pmds.delete(key);
    },
  },
  {
    name: 'a PMD left invalid',
    expected: /PMD \d+ left invalid/,
    corrupt: (s) => {
      const key = Math.ceil(s.big / PMD_SIZE);
      s.parent.pmds.set(key, 0);
      return () => s.parent.pmds.delete(key);
    },
  },
  {
    name: 'a PMD with both a page table and a huge entry',
    expected: /has both a page table and a huge entry/,
    corrupt: (s) => {
      const key = Math.floor(s.anon / PMD_SIZE);
      s.parent.pmds.set(key, 0);
      return () => s.parent.pmds.delete(key);
    },
  },
  {
    name: 'a VMA not chained to the anon_vma of its folios',
    expected: /the VMA is not chained to .*, so rmap cannot find this mapping/,
    corrupt: (s) => {
      const vma = s.parent.vmaLookup(s.anon)!;
      const chain = vma.anonVmaChain.splice(0);
      return () => vma.anonVmaChain.push(...chain);
    },
  },
  {
    name: 'an anonymous folio without anon_vma',
    expected: /anonymous folio 0x[0-9a-f]+ has no anon_vma/,
    corrupt: (s) => {
      const m = memmapOf(s.ctx.mem);
      return poke(m.mappingId, pfnAt(s, s.anon), 0);
    },
  },
  {
    name: 'a page-cache folio mapped by a VMA of another file',
    expected: /page-cache folio of .* mapped by a VMA of/,
    corrupt: (s) => {
      const m = memmapOf(s.ctx.mem);
      return poke(m.mappingId, pfnAt(s, s.shared), 0);
    },
  },
  {
    name: 'a folio index that does not match the VMA',
    expected: /page index \d+ does not match the VMA's \d+/,
    corrupt: (s) => {
      const m = memmapOf(s.ctx.mem);
      const folio = pfnAt(s, s.anon + PAGE_SIZE);
      return poke(m.index, folio, m.index[folio]! + 3);
    },
  },
  {
    name: 'a migration entry to an unlocked folio',
    expected: /migration entry to folio 0x[0-9a-f]+, which is not locked/,
    corrupt: (s) => {
      const m = memmapOf(s.ctx.mem);
      const folio = pfnAt(s, s.anon);
      // Unmapped from the parent as try_to_migrate_one would: one mapping and reference fewer.
      const undo = [
        setPte(s.parent, s.anon, mkMigrationEntry(folio, SWP_MIGRATION_READ, false, false, false)),
        poke(m.mapcount, folio, m.mapcount[folio]! - 1),
        poke(m.totalMapcount, folio, m.totalMapcount[folio]! - 1),
      ];
      return () => {
        for (const u of undo) u();
      };
    },
  },
  {
    name: 'an entry that is neither present nor a migration entry',
    expected: /unknown entry 0x[0-9a-f]+/,
    // Soft-dirty alone: not present, no migration type.
    corrupt: (s) => setPte(s.parent, s.anon, ((pfnAt(s, s.anon) << 7) | 0x10) >>> 0),
  },
  {
    name: 'a writable anonymous page that is not PageAnonExclusive',
    expected: /is writable but not PageAnonExclusive/,
    corrupt: (s) => {
      const m = memmapOf(s.ctx.mem);
      const folio = pfnAt(s, s.anon + 2 * PAGE_SIZE);
      const t = tableOf(s.parent, s.anon);
      const undoPte = setPte(
        s.parent,
        s.anon + 2 * PAGE_SIZE,
        t.ptes[slotOf(s.anon + 2 * PAGE_SIZE)]! | PTE_WRITE,
      );
      const undoFlag = poke(m.flags, folio, m.flags[folio]! & ~(1 << PG_anon_exclusive));
      return () => {
        undoFlag();
        undoPte();
      };
    },
  },
  {
    name: 'a mapcount above the PTEs',
    expected: /pfn 0x[0-9a-f]+: mapcount 3, PTEs mapping it 2/,
    corrupt: (s) => {
      const m = memmapOf(s.ctx.mem);
      const folio = pfnAt(s, s.anon + PAGE_SIZE);
      return poke(m.mapcount, folio, m.mapcount[folio]! + 1);
    },
  },
  {
    name: 'an entire mapcount without PMD',
    expected: /entire mapcount 1, PMDs mapping it 0/,
    corrupt: (s) => poke(memmapOf(s.ctx.mem).entireMapcount, pfnAt(s, s.anon), 1),
  },
  {
    name: 'a refcount below the mappings',
    expected: /refcount 1 below the 2 its mappings, cache and pins hold/,
    corrupt: (s) => poke(memmapOf(s.ctx.mem).refcount, pfnAt(s, s.anon + PAGE_SIZE), 1),
  },
  {
    name: 'a refcount below a pin',
    expected: /below the 1026 its mappings, cache and pins hold/,
    corrupt: (s) => {
      const folio = pfnAt(s, s.anon + PAGE_SIZE);
      s.parent.pins.set(folio, 1);
      return () => s.parent.pins.delete(folio);
    },
  },
  {
    name: 'an rss counter off by one',
    expected: /rss counter 1 is 9, entries say 8/,
    corrupt: (s) => poke(s.parent.rss, 1, s.parent.rss[1]! + 1),
  },
  {
    name: "a page table's use count off by one",
    expected: /page table \d+ counts (\d+) entries, has (?!\1)\d+/,
    corrupt: (s) => {
      const t = tableOf(s.parent, s.anon);
      t.used++;
      return () => {
        t.used--;
      };
    },
  },
  {
    name: 'VMA bounds: unaligned, and overlapping',
    expected: /bad bounds[\s\S]*overlaps the VMA before it/,
    corrupt: (s) => {
      const [a, b] = [s.parent.vmas[0]!, s.parent.vmas[1]!];
      const [end, start] = [a.end, b.start];
      a.end = b.start + 1;
      return () => {
        a.end = end;
        b.start = start;
      };
    },
  },
  {
    name: 'a VMA missing from i_mmap',
    expected: /missing from i_mmap/,
    corrupt: (s) => {
      const vma = s.parent.vmaLookup(s.shared)!;
      vma.file!.iMmap.delete(vma);
      return () => vma.file!.iMmap.add(vma);
    },
  },
  {
    name: 'a VMA not chained to its own anon_vma',
    expected: /not chained to its own/,
    corrupt: (s) => {
      const vma = s.parent.vmaLookup(s.anon)!;
      const chain = vma.anonVmaChain.splice(0);
      return () => vma.anonVmaChain.push(...chain);
    },
  },
  {
    name: 'an anon_vma that does not list the chain link, or is freed, or has refcount 0',
    expected: /does not list it[\s\S]*chained to freed[\s\S]*chained with refcount 0/,
    corrupt: (s) => {
      const av = s.parent.vmaLookup(s.anon)!.anonVma!;
      const links = [...av.rbRoot];
      const refcount = av.refcount;
      av.rbRoot.clear();
      av.freed = true;
      av.refcount = 0;
      return () => {
        for (const l of links) av.rbRoot.add(l);
        av.freed = false;
        av.refcount = refcount;
      };
    },
  },
  {
    name: 'a page-cache slot holding a free frame',
    expected: /index 5 caches 0x[0-9a-f]+, which is not a live folio/,
    corrupt: (s) => {
      const as = s.parent.vmaLookup(s.shared)!.file!;
      const pages = as.pages as Map<number, Folio>;
      pages.set(5, freeFrame(s));
      return () => pages.delete(5);
    },
  },
  {
    name: 'a page-cache slot holding a folio of another index',
    expected: /at index 6 has another mapping or index/,
    corrupt: (s) => {
      const as = s.parent.vmaLookup(s.shared)!.file!;
      const pages = as.pages as Map<number, Folio>;
      pages.set(6, pfnAt(s, s.shared));
      return () => pages.delete(6);
    },
  },
  {
    name: 'a stale TLB entry at the end',
    quiescent: true,
    expected:
      /CPU 1 caches parent 0x[0-9a-f]+ -> pfn 0x[0-9a-f]+ writable, but the page table says .* \(a missing TLB flush\)/,
    corrupt: (s) => {
      // The PTE made read-only without the flush: CPU 1 still has it writable.
      const t = tableOf(s.parent, s.anon);
      return setPte(s.parent, s.anon, t.ptes[slotOf(s.anon)]! & ~PTE_WRITE);
    },
  },
];

describe('checkRmap reports each kind of corruption, as checkRmapReference does', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const s = scene();
      const quiescent = c.quiescent ?? false;
      expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
      const undo = c.corrupt(s);
      const found = checkRmap(s.ctx, { quiescent });
      expect(found.join('\n')).toMatch(c.expected);
      expect(found).toEqual(checkRmapReference(s.ctx, { quiescent }));
      undo();
      expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
    });
  }

  it('a stale TLB entry is reported only at the end (quiescent)', () => {
    const s = scene();
    const t = tableOf(s.parent, s.anon);
    const undo = setPte(s.parent, s.anon, t.ptes[slotOf(s.anon)]! & ~PTE_WRITE);
    expect(checkRmap(s.ctx)).toEqual([]);
    expect(checkRmap(s.ctx, { quiescent: true }).join('\n')).toMatch(/a missing TLB flush/);
    undo();
  });

  it('a locked folio with migration entries in every mapping is accepted', () => {
    const s = scene();
    const m = memmapOf(s.ctx.mem);
    const folio = pfnAt(s, s.anon + PAGE_SIZE);
    const child = [...s.ctx.mms].find((mm) => mm.name === 'child')!;
    const entry = mkMigrationEntry(folio, SWP_MIGRATION_READ, false, false, false);
    const undo = [
      setPte(s.parent, s.anon + PAGE_SIZE, entry),
      setPte(child, s.anon + PAGE_SIZE, entry),
      poke(m.mapcount, folio, 0),
      poke(m.totalMapcount, folio, 0),
      poke(m.refcount, folio, 1),
      poke(m.flags, folio, m.flags[folio]! | (1 << PG_locked)),
    ];
    expect(checkRmap(s.ctx)).toEqual([]);
    expect(checkRmapReference(s.ctx)).toEqual([]);
    for (const u of undo.reverse()) u();
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it('the per-pfn counters of one check leave nothing behind for the next (one that threw included)', () => {
    const s = scene();
    const m = memmapOf(s.ctx.mem);
    const folio = pfnAt(s, s.anon);
    // A tail naming itself as its head: pfnFolio takes it for a folio, the accessors throw.
    const free = freeFrame(s);
    const undoState = poke(m.state, free, 4);
    const undoHead = poke(m.headOf, free, free);
    expect(() => checkRmap(s.ctx)).toThrow();
    expect(() => checkRmapReference(s.ctx)).toThrow();
    undoHead();
    undoState();
    const undo = poke(m.refcount, folio, 0);
    expect(checkRmap(s.ctx)).toEqual(checkRmapReference(s.ctx));
    undo();
    expect(checkRmap(s.ctx, { quiescent: true })).toEqual([]);
  });

  it('overlapping VMAs: each entry is checked against the VMA vma_lookup finds, not the one of the entry before', () => {
    const m = createRmapMachine();
    const { vm } = m;
    const p = vm.createProcess('p');
    const low = vm.mmap(p, { length: PAGE_SIZE, addr: 0x4000_0000 });
    const high = vm.mmap(p, { length: PAGE_SIZE, addr: 0x4000_0000 + PMD_SIZE });
    expect([low, high]).toEqual([0x4000_0000, 0x4000_0000 + PMD_SIZE]);
    m.rt.spawn('main', 0, function* (): KernelGen {
      // The high table first: its entry is walked first.
      yield* vm.userWrite(p, high, 1);
      yield* vm.userWrite(p, low, 2);
    });
    runAndCheck(m);
    const ctx = rmapStateOf(vm);
    const mm = [...ctx.mms][0]!;
    const vma = mm.vmaLookup(high)!;
    // The high VMA now also covers the low page; vma_lookup still finds the low VMA there.
    vma.start = low;
    const found = checkRmap(ctx);
    expect(found).toEqual(checkRmapReference(ctx));
    expect(found.join('\n')).toMatch(/overlaps the VMA before it/);
    expect(found.join('\n')).not.toMatch(/rmap cannot find/);
    vma.start = high;
    expect(checkRmap(ctx, { quiescent: true })).toEqual([]);
  });
  it('num_active_vmas is counted alike with a few VMAs and with more than the array check holds', () => {
    // 40 VMAs: past SMALL_ANON_VMA_CHECK (32), checkAnonVmas counts with sets.
    for (const n of [3, 40]) {
      const m = createRmapMachine();
      const { vm } = m;
      const p = vm.createProcess('p');
      const addrs: number[] = [];
      for (let i = 0; i < n; i++)
        addrs.push(vm.mmap(p, { length: PAGE_SIZE, addr: 0x4000_0000 + 2 * i * PAGE_SIZE }));
      m.rt.spawn('main', 0, function* (): KernelGen {
        for (const a of addrs) yield* vm.userWrite(p, a, 1);
      });
      runAndCheck(m);
      const ctx = rmapStateOf(vm);
      const mm = [...ctx.mms][0]!;
      expect(mm.vmas.length).toBe(n);
      const av = mm.vmaLookup(addrs[n - 1]!)!.anonVma!;
      av.numActiveVmas++;
      const found = checkRmap(ctx);
      expect(found.join('\n')).toMatch(/num_active_vmas \d+, but \d+ VMAs use it/);
      expect(found).toEqual(checkRmapReference(ctx));
      av.numActiveVmas--;
      expect(checkRmap(ctx)).toEqual([]);
      // A VMA listed twice (here after the last) counts once, as in the reference's set.
      mm.vmas.push(mm.vmas[n - 1]!);
      const twice = checkRmap(ctx);
      expect(twice.join('\n')).not.toMatch(/num_active_vmas/);
      expect(twice).toEqual(checkRmapReference(ctx));
      mm.vmas.pop();
      expect(checkRmap(ctx, { quiescent: true })).toEqual([]);
    }
  });
});
