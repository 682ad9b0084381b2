import {
  checkPhysicalMemory,
  type Folio,
  FolioList,
  folioNid,
  folioRefCount,
  folioTestHugetlb,
  hugetlbAcctMemory,
  pageContent,
} from '@mmsim/folio';
import { MIGRATE_SYNC, MR_MEMORY_FAILURE, MR_SYSCALL } from '@mmsim/migrate';
import {
  HPAGE_SIZE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PAGE_SIZE,
  VM_HUGETLB,
  VM_LOCKED,
} from '@mmsim/rmap';
import { EINVAL, ENOMEM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel } from '../src/index.js';

/*
 * Mapped hugetlb end to end (Linux 6.3: mm/hugetlb.c hugetlb_fault / hugetlb_no_page /
 * hugetlb_wp / hugetlb_reserve_pages / copy_hugetlb_page_range / __unmap_hugepage_range,
 * fs/hugetlbfs/inode.c hugetlbfs_file_mmap, mm/rmap.c try_to_migrate_one, mm/migrate.c
 * remove_migration_pte / unmap_and_move_huge_page).
 */

const ANON_PRIVATE = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
const ANON_SHARED = MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB;

function machine(hugetlbPages = 4): Kernel {
  return createKernel({
    nodes: [
      { pages: 4096, hugetlbPages },
      { pages: 4096, hugetlbPages },
    ],
    cpusPerNode: 2,
  });
}

function meminfo(k: Kernel): [number, number, number, number] {
  const m = k.hugetlbMeminfo();
  return [m.HugePages_Total, m.HugePages_Free, m.HugePages_Rsvd, m.HugePages_Surp];
}

function run(k: Kernel, body: () => KernelGen): void {
  k.rt.spawn('main', 0, body);
  k.run();
  expect(k.vm.check()).toEqual([]);
}

/** isolate_hugetlb + migrate_pages to `nid`, as move_pages(2) does; returns the rc. */
function* migrateHuge(k: Kernel, folio: Folio, nid: number, reason: number): KernelGen<number> {
  const list = new FolioList(k.mem);
  expect(k.migrate.isolateHugetlb(folio, list)).toBe(true);
  const result = yield* k.migrate.migratePages(
    list,
    k.migrate.allocMigrationTarget,
    null,
    { nid, thisNode: true },
    MIGRATE_SYNC,
    reason as never,
  );
  if (list.size > 0) yield* k.migrate.putbackMovablePages(list);
  return result.rc;
}

describe('MAP_HUGETLB mmap', () => {
  it('rounds the length to 2 MiB, places the VMA on a 2 MiB boundary with VM_HUGETLB, and reserves its pages', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE, flags: ANON_PRIVATE });
    expect(addr % HPAGE_SIZE).toBe(0);
    const vma = mm.vmaLookup(addr)!;
    expect(vma.end - vma.start).toBe(HPAGE_SIZE);
    expect(vma.flags & VM_HUGETLB).toBe(VM_HUGETLB);
    expect(meminfo(k)).toEqual([8, 8, 1, 0]);
    // MAP_NORESERVE reserves nothing.
    k.vm.mmap(mm, { length: 2 * HPAGE_SIZE, flags: ANON_SHARED | MAP_NORESERVE });
    expect(meminfo(k)).toEqual([8, 8, 1, 0]);
    expect(k.vm.check()).toEqual([]);
  });

  it('refuses a MAP_FIXED address that is not 2 MiB-aligned, a misaligned hugetlbfs offset and MAP_HUGETLB of a regular file with -EINVAL', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const fixed = { length: HPAGE_SIZE, flags: ANON_PRIVATE | MAP_FIXED };
    expect(k.vm.mmap(mm, { ...fixed, addr: 0x4000_0000 + PAGE_SIZE })).toBe(-EINVAL);
    expect(k.vm.mmap(mm, { ...fixed, addr: 0x4000_0000 })).toBe(0x4000_0000);
    const h = k.createFile('huge', { hugetlb: true });
    expect(k.vm.mmap(mm, { length: HPAGE_SIZE, flags: MAP_SHARED, file: h, pgoff: 1 })).toBe(
      -EINVAL,
    );
    const reg = k.createFile('reg');
    expect(k.vm.mmap(mm, { length: HPAGE_SIZE, flags: MAP_SHARED | MAP_HUGETLB, file: reg })).toBe(
      -EINVAL,
    );
    expect(mm.vmas.length).toBe(1);
  });

  it('fails with -ENOMEM and changes nothing when the pool cannot cover the reservation', () => {
    const k = machine(1);
    const mm = k.createProcess('p');
    const before = meminfo(k);
    expect(k.vm.mmap(mm, { length: 3 * HPAGE_SIZE, flags: ANON_SHARED })).toBe(-ENOMEM);
    expect(k.vm.mmap(mm, { length: 3 * HPAGE_SIZE, flags: ANON_PRIVATE })).toBe(-ENOMEM);
    expect(meminfo(k)).toEqual(before);
    expect(mm.vmas.length).toBe(0);
    // Two pages fit; a third mapping of one more does not.
    expect(k.vm.mmap(mm, { length: 2 * HPAGE_SIZE, flags: ANON_SHARED })).toBeGreaterThan(0);
    expect(k.vm.mmap(mm, { length: HPAGE_SIZE, flags: ANON_PRIVATE })).toBe(-ENOMEM);
    expect(meminfo(k)).toEqual([2, 2, 2, 0]);
  });

  it('with nr_overcommit_hugepages a reservation grows the pool with surplus pages, given back when the last mapping goes', () => {
    const k = createKernel({
      nodes: [
        { pages: 4096, hugetlbPages: 1 },
        { pages: 4096, hugetlbPages: 1 },
      ],
      cpusPerNode: 2,
      nrOvercommitHugePages: 2,
    });
    const mm = k.createProcess('p');
    expect(k.vm.mmap(mm, { length: 5 * HPAGE_SIZE, flags: ANON_SHARED })).toBe(-ENOMEM);
    expect(meminfo(k)).toEqual([2, 2, 0, 0]);
    const addr = k.vm.mmap(mm, { length: 4 * HPAGE_SIZE, flags: ANON_SHARED });
    expect(meminfo(k)).toEqual([4, 4, 4, 2]);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
    run(k, function* () {
      yield* k.vm.userWrite(mm, addr + 3 * HPAGE_SIZE, 3);
      expect(meminfo(k)).toEqual([4, 3, 3, 2]);
      expect(yield* k.vm.munmap(mm, addr, 4 * HPAGE_SIZE)).toBe(0);
      expect(meminfo(k)).toEqual([2, 2, 0, 0]);
      expect(checkPhysicalMemory(k.mem)).toEqual([]);
    });
  });

  it('an unreserved (MAP_NORESERVE) fault past the pool gets SIGBUS', () => {
    const k = machine(1);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 3 * HPAGE_SIZE, flags: ANON_PRIVATE | MAP_NORESERVE });
    run(k, function* () {
      yield* k.vm.userWrite(mm, addr, 1);
      yield* k.vm.userWrite(mm, addr + HPAGE_SIZE, 2);
      let error: unknown = null;
      try {
        yield* k.vm.userWrite(mm, addr + 2 * HPAGE_SIZE, 3);
      } catch (e) {
        error = e;
      }
      expect(String(error)).toMatch(/VM_FAULT 0x2/);
    });
  });
});

describe('hugetlb faults', () => {
  it('a private write fault maps a 2 MiB hugetlb folio writable, consumes the reservation, and reads back every page', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: HPAGE_SIZE, flags: ANON_PRIVATE });
    run(k, function* () {
      yield* k.vm.userWrite(mm, addr + 5 * PAGE_SIZE, 55);
      yield* k.vm.userWrite(mm, addr + 511 * PAGE_SIZE, 511);
      expect(yield* k.vm.userRead(mm, addr + 5 * PAGE_SIZE)).toBe(55);
      expect(yield* k.vm.userRead(mm, addr + 6 * PAGE_SIZE)).toBe(0);
      const head = k.vm.followPage(mm, addr);
      expect(folioTestHugetlb(k.mem, head)).toBe(true);
      expect(k.vm.followPage(mm, addr + 5 * PAGE_SIZE)).toBe(head + 5);
      expect(pageContent(k.mem, head + 511)).toBe(511);
      const pte = k.vm.lookupPte(mm, addr);
      expect(pte.kind === 'present' && pte.write).toBe(true);
      expect(meminfo(k)).toEqual([8, 7, 0, 0]);
      const pm = k.vm.pagemap(mm, addr + 5 * PAGE_SIZE);
      expect([pm.present, pm.pfn, pm.file, pm.exclusive, pm.swap]).toEqual([
        true,
        head + 5,
        false,
        true,
        false,
      ]);
      expect(k.vm.folioMappings(head).length).toBe(512);
    });
  });

  it('fork shares a private hugetlb folio and the first write copies it (hugetlb_wp); munmap and exit give both back to the pool', () => {
    const k = machine();
    const parent = k.createProcess('parent');
    const addr = k.vm.mmap(parent, { length: HPAGE_SIZE, flags: ANON_PRIVATE });
    run(k, function* () {
      yield* k.vm.userWrite(parent, addr, 1);
      yield* k.vm.userWrite(parent, addr + PAGE_SIZE, 11);
      const child = yield* k.vm.fork(parent, 'child');
      const shared = k.vm.followPage(parent, addr);
      expect(k.vm.followPage(child, addr)).toBe(shared);
      expect(folioRefCount(k.mem, shared)).toBe(2);
      yield* k.vm.userWrite(child, addr, 2);
      const copy = k.vm.followPage(child, addr);
      expect(copy).not.toBe(shared);
      expect(yield* k.vm.userRead(child, addr + PAGE_SIZE)).toBe(11);
      expect(yield* k.vm.userRead(parent, addr)).toBe(1);
      expect(yield* k.vm.userRead(child, addr)).toBe(2);
      // The parent's page is its own again: its write reuses it.
      yield* k.vm.userWrite(parent, addr, 3);
      expect(k.vm.followPage(parent, addr)).toBe(shared);
      expect(meminfo(k)).toEqual([8, 6, 0, 0]);
      expect(k.vm.check()).toEqual([]);
      expect(yield* k.vm.munmap(child, addr, HPAGE_SIZE)).toBe(0);
      expect(meminfo(k)).toEqual([8, 7, 0, 0]);
      yield* k.vm.exit(parent);
      yield* k.vm.exit(child);
      expect(meminfo(k)).toEqual([8, 8, 0, 0]);
      expect(k.migrate.hugepageActivelist.size).toBe(0);
    });
  });

  it('mlock leaves a hugetlb VMA alone (no split, no VM_LOCKED) and populates it', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * HPAGE_SIZE, flags: ANON_PRIVATE });
    run(k, function* () {
      expect(yield* k.vm.mlock(mm, addr + PAGE_SIZE, PAGE_SIZE)).toBe(0);
      expect(mm.vmas.length).toBe(1);
      expect(mm.vmas[0]!.flags & VM_LOCKED).toBe(0);
      expect(k.vm.lookupPte(mm, addr).kind).toBe('present');
      expect(meminfo(k)).toEqual([8, 7, 1, 0]);
    });
  });

  it('munmap inside a hugetlb VMA must be 2 MiB-aligned (-EINVAL); an unused reservation goes back on munmap', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * HPAGE_SIZE, flags: ANON_PRIVATE });
    run(k, function* () {
      expect(yield* k.vm.munmap(mm, addr + PAGE_SIZE, PAGE_SIZE)).toBe(-EINVAL);
      yield* k.vm.userWrite(mm, addr, 1);
      expect(meminfo(k)).toEqual([8, 7, 1, 0]);
      expect(yield* k.vm.munmap(mm, addr + HPAGE_SIZE, HPAGE_SIZE)).toBe(0);
      expect(meminfo(k)).toEqual([8, 7, 0, 0]);
      expect(yield* k.vm.munmap(mm, addr, HPAGE_SIZE)).toBe(0);
      expect(meminfo(k)).toEqual([8, 8, 0, 0]);
    });
  });

  it('a shared MAP_HUGETLB mapping is one folio for parent and child, freed when the last mapping goes', () => {
    const k = machine();
    const parent = k.createProcess('parent');
    const addr = k.vm.mmap(parent, { length: HPAGE_SIZE, flags: ANON_SHARED });
    run(k, function* () {
      const child = yield* k.vm.fork(parent, 'child');
      yield* k.vm.userWrite(child, addr + 3 * PAGE_SIZE, 33);
      expect(yield* k.vm.userRead(parent, addr + 3 * PAGE_SIZE)).toBe(33);
      expect(k.vm.followPage(parent, addr)).toBe(k.vm.followPage(child, addr));
      expect(k.vm.pagemap(parent, addr).file).toBe(true);
      expect(meminfo(k)).toEqual([8, 7, 0, 0]);
      yield* k.vm.exit(child);
      expect(meminfo(k)).toEqual([8, 7, 0, 0]);
      yield* k.vm.exit(parent);
      expect(meminfo(k)).toEqual([8, 8, 0, 0]);
    });
  });

  it('a hugetlbfs file keeps its pages in the page cache after munmap; another process maps the same data', () => {
    const k = machine();
    const file = k.createFile('hugefile', { hugetlb: true });
    const a = k.createProcess('a');
    const b = k.createProcess('b');
    const at = k.vm.mmap(a, { length: 2 * HPAGE_SIZE, flags: MAP_SHARED, file });
    expect(meminfo(k)).toEqual([8, 8, 2, 0]);
    run(k, function* () {
      yield* k.vm.userWrite(a, at + HPAGE_SIZE + 7 * PAGE_SIZE, 77);
      expect(file.lookup(1)).toBe(k.vm.followPage(a, at + HPAGE_SIZE));
      expect(yield* k.vm.munmap(a, at, 2 * HPAGE_SIZE)).toBe(0);
      expect(meminfo(k)).toEqual([8, 7, 1, 0]);
      const bt = k.vm.mmap(b, {
        length: HPAGE_SIZE,
        flags: MAP_SHARED,
        file,
        pgoff: HPAGE_SIZE / PAGE_SIZE,
      });
      expect(yield* k.vm.userRead(b, bt + 7 * PAGE_SIZE)).toBe(77);
      expect(meminfo(k)).toEqual([8, 7, 1, 0]);
    });
  });
});

describe('migration of mapped hugetlb folios', () => {
  for (const [name, flags] of [
    ['private anonymous', ANON_PRIVATE],
    ['shared (hugetlbfs page cache)', ANON_SHARED],
  ] as const) {
    for (const reason of [MR_SYSCALL, MR_MEMORY_FAILURE]) {
      it(`moves a mapped ${name} hugetlb folio to the other node with its words and mappings (reason ${reason})`, () => {
        const k = machine();
        const mm = k.createProcess('p');
        const addr = k.vm.mmap(mm, { length: HPAGE_SIZE, flags });
        run(k, function* () {
          for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * 100 * PAGE_SIZE, i + 1);
          const src = k.vm.followPage(mm, addr);
          expect(folioNid(k.mem, src)).toBe(0);
          expect(yield* migrateHuge(k, src, 1, reason)).toBe(0);
          const dst = k.vm.followPage(mm, addr);
          expect(dst).not.toBe(src);
          expect(folioNid(k.mem, dst)).toBe(1);
          for (let i = 0; i < 4; i++) {
            expect(yield* k.vm.userRead(mm, addr + i * 100 * PAGE_SIZE)).toBe(i + 1);
          }
          yield* k.vm.userWrite(mm, addr, 9);
          expect(k.vm.followPage(mm, addr)).toBe(dst);
          expect(k.hugetlbNodeCounters(0).free_hugepages).toBe(4);
          expect(k.hugetlbNodeCounters(1).free_hugepages).toBe(3);
        });
      });
    }
  }

  it('a user task touching the folio during the migration waits on the hugetlb migration entry and loses no write', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: HPAGE_SIZE, flags: ANON_PRIVATE });
    let done = false;
    k.rt.spawn('setup', 0, function* () {
      yield* k.vm.userWrite(mm, addr, 1);
      const src = k.vm.followPage(mm, addr);
      k.rt.spawn('user', 1, function* () {
        for (let i = 2; i < 40; i++) {
          yield* k.vm.userWrite(mm, addr + (i % 8) * PAGE_SIZE, i);
          expect(yield* k.vm.userRead(mm, addr + (i % 8) * PAGE_SIZE)).toBe(i);
          yield;
        }
        done = true;
      });
      expect(yield* migrateHuge(k, src, 1, MR_SYSCALL)).toBe(0);
    });
    k.run();
    expect(done).toBe(true);
    expect(k.vm.check()).toEqual([]);
    expect(folioNid(k.mem, k.vm.followPage(mm, addr))).toBe(1);
  });
});

describe('hugetlb rmap invariants', () => {
  it('accepts mapped hugetlb folios and reports one mapped in a VMA without VM_HUGETLB or at the wrong index', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * HPAGE_SIZE, flags: ANON_PRIVATE });
    run(k, function* () {
      yield* k.vm.userWrite(mm, addr, 1);
      yield* k.vm.userWrite(mm, addr + HPAGE_SIZE, 2);
    });
    expect(k.vm.check()).toEqual([]);
    const vma = mm.vmaLookup(addr)! as { flags: number };
    const pmds = (mm as unknown as { pmds: Map<number, number> }).pmds;
    const first = addr / HPAGE_SIZE;
    // Swap the two entries: each folio is now at the other's huge-page index.
    const a = pmds.get(first)!;
    pmds.set(first, pmds.get(first + 1)!);
    pmds.set(first + 1, a);
    expect(k.vm.check().join('\n')).toMatch(/huge-page index/);
    pmds.set(first + 1, pmds.get(first)!);
    pmds.set(first, a);
    expect(k.vm.check()).toEqual([]);
    vma.flags &= ~VM_HUGETLB;
    expect(k.vm.check().join('\n')).toMatch(/without VM_HUGETLB/);
    vma.flags |= VM_HUGETLB;
    expect(k.vm.check()).toEqual([]);
  });

  it('the folio check accepts reservations the pool covers and reports resv_huge_pages above the free pages', () => {
    const k = machine(1);
    expect(hugetlbAcctMemory(k.mem, 2)).toBe(0);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
    expect(hugetlbAcctMemory(k.mem, 1)).toBe(-ENOMEM);
    expect(k.hugetlbMeminfo().HugePages_Rsvd).toBe(2);
    (k.mem as unknown as { resvHugePages: number }).resvHugePages = 3;
    expect(checkPhysicalMemory(k.mem).join('\n')).toMatch(/resv_huge_pages 3/);
  });
});
