import {
  folioGet,
  folioMapcount,
  folioPut,
  folioRefCount,
  folioTestAnon,
  folioTestKsm,
  pfnFolio,
} from '@mmsim/folio';
import { Completion, EINVAL, ENOMEM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  ksmMadvise,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  type MmView,
  PAGE_SIZE,
  VM_MERGEABLE,
} from '../src/index.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import type { RmapMachine } from '../src/testing/machine.js';

/*
 * KSM (mm/ksm.c, Linux 6.3): ksm_madvise, ksmd's scan (cmp_and_merge_page, the unstable and
 * stable trees, try_to_merge_one_page / write_protect_page / replace_page), COW of a KSM
 * page, unmerge (break_ksm), rmap_walk_ksm, and the rmap checks of KSM mappings.
 */

/** ksmd until `fullScans` more full scans are done. */
function* scanUntil(m: RmapMachine, fullScans: number): KernelGen {
  const target = m.vm.ksmStats.fullScans + fullScans;
  let guard = 0;
  while (m.vm.ksmStats.fullScans < target) {
    yield* m.vm.ksmDoScan(100, m.lru === null ? undefined : () => m.lru!.lruAddDrainAll());
    if (++guard > 1000) throw new Error('ksmd made no progress');
  }
}

/** Two processes, each with `pages` mergeable pages written with `word(i)`. */
function* twoProcesses(
  m: RmapMachine,
  pages: number,
  word: (i: number) => number,
): KernelGen<{ a: MmView; b: MmView; addrA: number; addrB: number }> {
  const a = m.vm.createProcess('a');
  const b = m.vm.createProcess('b');
  const addrA = m.vm.mmap(a, { length: pages * PAGE_SIZE });
  // b's area at another address, so the KSM page is mapped at different indexes.
  const addrB = m.vm.mmap(b, { length: (pages + 3) * PAGE_SIZE }) + 3 * PAGE_SIZE;
  for (let i = 0; i < pages; i++) {
    yield* m.vm.userWrite(a, addrA + i * PAGE_SIZE, word(i));
    yield* m.vm.userWrite(b, addrB + i * PAGE_SIZE, word(i));
  }
  expect(yield* ksmMadvise(m.vm, a, addrA, pages * PAGE_SIZE, MADV_MERGEABLE)).toBe(0);
  expect(yield* m.vm.ksmMadvise(b, addrB, pages * PAGE_SIZE, MADV_MERGEABLE)).toBe(0);
  return { a, b, addrA, addrB };
}

describe('ksm_madvise', () => {
  it('MADV_MERGEABLE sets VM_MERGEABLE on the range only, splitting the VMA', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4 * PAGE_SIZE });
    m.rt.spawn('main', 0, function* (): KernelGen {
      expect(yield* vm.ksmMadvise(p, addr + PAGE_SIZE, 2 * PAGE_SIZE, MADV_MERGEABLE)).toBe(0);
      const flags = p.vmas.map((v) => (v.flags & VM_MERGEABLE) !== 0);
      expect(p.vmas.map((v) => [v.start - addr, v.end - addr])).toEqual([
        [0, PAGE_SIZE],
        [PAGE_SIZE, 3 * PAGE_SIZE],
        [3 * PAGE_SIZE, 4 * PAGE_SIZE],
      ]);
      expect(flags).toEqual([false, true, false]);
      // Advice that changes nothing, and bad input.
      expect(yield* vm.ksmMadvise(p, addr + PAGE_SIZE, PAGE_SIZE, MADV_MERGEABLE)).toBe(0);
      expect(yield* vm.ksmMadvise(p, addr + 1, PAGE_SIZE, MADV_MERGEABLE)).toBe(-EINVAL);
      expect(yield* vm.ksmMadvise(p, addr, PAGE_SIZE, 4)).toBe(-EINVAL);
      expect(yield* vm.ksmMadvise(p, addr, 8 * PAGE_SIZE, MADV_MERGEABLE)).toBe(-ENOMEM);
      expect(yield* vm.ksmMadvise(p, addr, 4 * PAGE_SIZE, MADV_UNMERGEABLE)).toBe(0);
      expect(p.vmas.some((v) => (v.flags & VM_MERGEABLE) !== 0)).toBe(false);
    });
    runAndCheck(m);
  });
});

describe('ksmd', () => {
  it('merges identical pages of two processes into KSM pages, counted in pages_shared / pages_sharing', () => {
    const m = machine({ lru: true });
    const { vm, mem } = m;
    m.rt.spawn('main', 0, function* (): KernelGen {
      const { a, b, addrA, addrB } = yield* twoProcesses(m, 4, (i) => (i < 3 ? 7 : 100 + i));
      const unrelated = vm.createProcess('c');
      const addrC = vm.mmap(unrelated, { length: PAGE_SIZE });
      yield* vm.userWrite(unrelated, addrC, 7); // same content, but not mergeable
      // The first full scan only takes checksums; the second merges.
      yield* scanUntil(m, 1);
      expect(vm.ksmStats.pagesShared).toBe(0);
      yield* scanUntil(m, 1);
      const kpage = vm.followPage(a, addrA);
      expect(folioTestKsm(mem, kpage)).toBe(true);
      // Six pages of content 7 (three in each process) share one KSM page...
      for (let i = 0; i < 3; i++) {
        expect(vm.followPage(a, addrA + i * PAGE_SIZE)).toBe(kpage);
        expect(vm.followPage(b, addrB + i * PAGE_SIZE)).toBe(kpage);
        expect(vm.lookupPte(b, addrB + i * PAGE_SIZE).write).toBe(false);
      }
      // ...the fourth pages (another word) share another one, and c's page is not mergeable.
      const other = vm.followPage(a, addrA + 3 * PAGE_SIZE);
      expect(folioTestKsm(mem, other)).toBe(true);
      expect(other).not.toBe(kpage);
      expect(vm.followPage(b, addrB + 3 * PAGE_SIZE)).toBe(other);
      expect(folioTestKsm(mem, vm.followPage(unrelated, addrC))).toBe(false);
      expect(folioMapcount(mem, kpage)).toBe(6);
      expect(folioRefCount(mem, kpage)).toBe(6);
      expect(vm.ksmStats).toMatchObject({ pagesShared: 2, pagesSharing: 6, stableNodes: 2 });
      const node = vm.ksmStableNode(kpage)!;
      expect(node.kpfn).toBe(kpage);
      expect(node.hlist).toHaveLength(6);
      // A page mapped by several mms is shared: pagemap does not call it exclusive.
      expect(vm.pagemap(a, addrA)).toMatchObject({ pfn: kpage, exclusive: false });
      expect(yield* vm.userRead(b, addrB + 2 * PAGE_SIZE)).toBe(7);
      // The rmap finds all six mappings, at their own addresses.
      const found = vm
        .folioMappings(kpage)
        .map((x) => `${x.mm.name}@${x.address - (x.mm === a ? addrA : addrB)}`);
      expect(found.sort()).toEqual(['a@0', 'a@4096', 'a@8192', 'b@0', 'b@4096', 'b@8192'].sort());
      // The freed duplicates went back to the buddy.
      expect(vm.check()).toEqual([]);
    });
    runAndCheck(m);
  });

  it('a write to a KSM page copies it (do_wp_page never reuses a KSM page), with the written word', () => {
    const m = machine({ lru: true });
    const { vm, mem } = m;
    m.rt.spawn('main', 0, function* (): KernelGen {
      const { a, b, addrA, addrB } = yield* twoProcesses(m, 2, () => 5);
      yield* scanUntil(m, 2);
      const kpage = vm.followPage(a, addrA);
      expect(folioTestKsm(mem, kpage)).toBe(true);
      expect(folioMapcount(mem, kpage)).toBe(4);
      yield* vm.userWrite(b, addrB, 99);
      const copy = vm.followPage(b, addrB);
      expect(copy).not.toBe(kpage);
      expect(folioTestKsm(mem, copy)).toBe(false);
      expect(folioTestAnon(mem, copy)).toBe(true);
      expect(yield* vm.userRead(b, addrB)).toBe(99);
      expect(yield* vm.userRead(a, addrA)).toBe(5);
      expect(yield* vm.userRead(b, addrB + PAGE_SIZE)).toBe(5);
      expect(folioMapcount(mem, kpage)).toBe(3);
      // Even the last mapping of a KSM page is copied on write, never reused.
      yield* vm.userWrite(a, addrA, 1);
      yield* vm.userWrite(a, addrA + PAGE_SIZE, 2);
      expect(folioMapcount(mem, kpage)).toBe(1);
      yield* vm.userWrite(b, addrB + PAGE_SIZE, 3);
      expect(vm.followPage(b, addrB + PAGE_SIZE)).not.toBe(kpage);
      expect(yield* vm.userRead(b, addrB + PAGE_SIZE)).toBe(3);
      // The KSM page is freed; its stable node is stale until ksmd meets it again.
      yield* scanUntil(m, 1);
      expect(vm.ksmStats).toMatchObject({ pagesShared: 0, pagesSharing: 0 });
    });
    runAndCheck(m);
  });

  it('MADV_UNMERGEABLE breaks every KSM mapping of the range with a private copy', () => {
    const m = machine({ lru: true });
    const { vm, mem } = m;
    m.rt.spawn('main', 0, function* (): KernelGen {
      const { a, b, addrA, addrB } = yield* twoProcesses(m, 3, () => 11);
      yield* scanUntil(m, 2);
      const kpage = vm.followPage(a, addrA);
      expect(folioMapcount(mem, kpage)).toBe(6);
      expect(yield* vm.ksmMadvise(a, addrA, 3 * PAGE_SIZE, MADV_UNMERGEABLE)).toBe(0);
      for (let i = 0; i < 3; i++) {
        const f = vm.followPage(a, addrA + i * PAGE_SIZE);
        expect(folioTestKsm(mem, f)).toBe(false);
        expect(yield* vm.userRead(a, addrA + i * PAGE_SIZE)).toBe(11);
        expect(vm.followPage(b, addrB + i * PAGE_SIZE)).toBe(kpage);
      }
      expect(folioMapcount(mem, kpage)).toBe(3);
      expect((a.vmas[0]!.flags & VM_MERGEABLE) === 0).toBe(true);
      // b's pages stay merged; the next scan drops a's items from the stable node.
      yield* scanUntil(m, 1);
      expect(vm.ksmStats).toMatchObject({ pagesShared: 1, pagesSharing: 2 });
      expect(vm.ksmStableNode(kpage)!.hlist).toHaveLength(3);
    });
    runAndCheck(m);
  });

  it('MADV_UNMERGEABLE waits on a migration entry (FOLL_MIGRATION) and then breaks the KSM page', () => {
    const m = machine({ lru: true });
    const { vm, mem, locks } = m;
    const unmapped = new Completion(m.rt, 'unmapped');
    let kpage = -1;
    let a: MmView | null = null;
    let addrA = 0;
    m.rt.spawn('migrator', 0, function* (): KernelGen {
      const two = yield* twoProcesses(m, 1, () => 4);
      a = two.a;
      addrA = two.addrA;
      yield* scanUntil(m, 2);
      kpage = vm.followPage(a, addrA);
      folioGet(mem, kpage);
      yield* locks.folioLock(kpage, 'migrate_folio_unmap');
      yield* vm.tryToMigrate(kpage, 0);
      unmapped.complete();
      yield* m.rt.sleepFor(1_000_000); // madvise runs into the migration entry meanwhile
      yield* vm.removeMigrationPtes(kpage, kpage, false);
      locks.folioUnlock(kpage);
      folioPut(mem, kpage);
    });
    m.rt.spawn('madvise', 1, function* (): KernelGen {
      yield* unmapped.wait();
      expect(vm.lookupPte(a!, addrA).kind).toBe('migration');
      expect(yield* vm.ksmMadvise(a!, addrA, PAGE_SIZE, MADV_UNMERGEABLE)).toBe(0);
      const f = vm.followPage(a!, addrA);
      expect(f).not.toBe(kpage);
      expect(folioTestKsm(mem, f)).toBe(false);
      expect(yield* vm.userRead(a!, addrA)).toBe(4);
    });
    runAndCheck(m);
  });

  it('a page that changes between scans is not merged (its checksum moved)', () => {
    const m = machine({ lru: true });
    const { vm, mem } = m;
    m.rt.spawn('main', 0, function* (): KernelGen {
      const { a, b, addrA, addrB } = yield* twoProcesses(m, 1, () => 3);
      yield* scanUntil(m, 1);
      yield* vm.userWrite(a, addrA, 4);
      yield* vm.userWrite(b, addrB, 4);
      yield* scanUntil(m, 1);
      expect(folioTestKsm(mem, vm.followPage(a, addrA))).toBe(false);
      yield* scanUntil(m, 1);
      expect(vm.followPage(a, addrA)).toBe(vm.followPage(b, addrB));
    });
    runAndCheck(m);
  });
});

describe('change_prot_numa', () => {
  it('leaves a KSM page alone, even with one mapping left (6.3 skips folio_test_ksm)', () => {
    const m = machine({ lru: true });
    const { vm, mem } = m;
    m.rt.spawn('main', 0, function* (): KernelGen {
      const { a, b, addrA, addrB } = yield* twoProcesses(m, 1, () => 2);
      yield* scanUntil(m, 2);
      const kpage = vm.followPage(a, addrA);
      yield* vm.userWrite(b, addrB, 3); // b's copy: the KSM page has one mapping left
      yield* m.lru!.lruAddDrain(); // the copy's LRU batch reference
      expect(folioMapcount(mem, kpage)).toBe(1);
      expect(folioRefCount(mem, kpage)).toBe(1);
      expect(yield* vm.changeProtNuma(a, addrA, PAGE_SIZE)).toBe(0);
      expect(yield* vm.changeProtNuma(b, addrB, PAGE_SIZE)).toBe(1);
    });
    runAndCheck(m);
  });
});

describe('rmap_walk_ksm and the rmap checks', () => {
  it('a forked child of a merged mm is found by the walk (its second pass) and accepted by the checks', () => {
    const m = machine({ lru: true });
    const { vm, mem } = m;
    m.rt.spawn('main', 0, function* (): KernelGen {
      const { a, addrA } = yield* twoProcesses(m, 1, () => 8);
      yield* scanUntil(m, 2);
      const kpage = vm.followPage(a, addrA);
      const child = yield* vm.fork(a, 'child');
      expect(vm.followPage(child, addrA)).toBe(kpage);
      expect(folioMapcount(mem, kpage)).toBe(3);
      expect(
        vm
          .folioMappings(kpage)
          .map((x) => x.mm.name)
          .sort(),
      ).toEqual(['a', 'b', 'child']);
      expect(vm.check()).toEqual([]);
      yield* vm.exit(child);
    });
    runAndCheck(m);
  });

  it('accepts a KSM mapping whose rmap_item ksmd dropped while a migration entry hid the page, until the next scan', () => {
    const m = machine({ lru: true });
    const { vm, mem, locks } = m;
    let kpage = -1;
    const unmapped = new Completion(m.rt, 'unmapped');
    m.rt.spawn('migrator', 0, function* (): KernelGen {
      const { a, addrA } = yield* twoProcesses(m, 2, () => 6);
      yield* scanUntil(m, 2);
      kpage = vm.followPage(a, addrA);
      expect(vm.ksmStats).toMatchObject({ pagesShared: 1, pagesSharing: 3 });
      // try_to_migrate's half of a migration: every mapping becomes a migration entry.
      folioGet(mem, kpage);
      yield* locks.folioLock(kpage, 'migrate_folio_unmap');
      yield* vm.tryToMigrate(kpage, 0);
      expect(vm.folioMapped(kpage)).toBe(false);
      unmapped.complete();
      // ksmd skips the hidden pages and, removing their items, sleeps on the page lock.
      for (let i = 0; locks.folioWaiters(kpage).length === 0; i++) {
        if (i > 100) throw new Error('ksmd never waited on the page lock');
        yield* m.rt.sleepFor(1_000_000);
      }
      yield* vm.removeMigrationPtes(kpage, kpage, false);
      locks.folioUnlock(kpage);
      folioPut(mem, kpage);
    });
    m.rt.spawn('ksmd', 1, function* (): KernelGen {
      yield* unmapped.wait();
      yield* vm.ksmDoScan(100);
      // The four mappings are back; a's two lost their rmap_items (b's pages were present
      // again when ksmd got to them): a legal 6.3 state, until the next scan.
      expect(folioMapcount(mem, kpage)).toBe(4);
      expect(vm.ksmStableNode(kpage)!.hlist.map((i) => i.mm.name)).toEqual(['b', 'b']);
      expect(vm.check()).toEqual([]);
      // The next full scans give each mapping an item on the page's node again.
      yield* scanUntil(m, 2);
      expect(vm.ksmStableNode(kpage)!.hlist).toHaveLength(4);
      expect(vm.ksmStats).toMatchObject({ pagesShared: 1, pagesSharing: 3 });
    });
    runAndCheck(m);
  });

  it('reports a KSM mapping that no rmap_item covers, and a stable node with a stale kpfn', () => {
    const m = machine({ lru: true });
    const { vm, mem } = m;
    m.rt.spawn('main', 0, function* (): KernelGen {
      const { a, addrA } = yield* twoProcesses(m, 1, () => 9);
      yield* scanUntil(m, 2);
      const kpage = vm.followPage(a, addrA);
      const node = vm.ksmStableNode(kpage)!;
      expect(vm.check()).toEqual([]);
      // A stale kpfn (what folio_migrate_ksm must prevent).
      node.kpfn = kpage + 1;
      const problems = vm.check();
      expect(problems.some((p) => p.includes('stale'))).toBe(true);
      node.kpfn = kpage;
      // A mapping the stable node does not list.
      const item = node.hlist.pop()!;
      const lost = vm.check();
      expect(lost.some((p) => p.includes('rmap_walk_ksm cannot find'))).toBe(true);
      node.hlist.push(item);
      expect(vm.check()).toEqual([]);
      expect(pfnFolio(mem, kpage)).toBe(kpage);
    });
    runAndCheck(m);
  });
});
