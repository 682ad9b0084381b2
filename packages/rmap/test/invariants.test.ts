import { type Folio, folioSetMapping, folioTestFlag, PG_locked } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  type AddressSpaceView,
  MAP_ANONYMOUS,
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
} from '../src/index.js';
import type { AnonVma } from '../src/internal.js';
import {
  createRmapMachine,
  createRmapMachine as machine,
  runAndCheck,
} from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

function fileOf(mm: MmView, addr: number): AddressSpaceView {
  const file = mm.vmaLookup(addr)?.file ?? null;
  if (file === null) throw new Error('no file mapping there');
  return file;
}

/**
 * `VirtualMemory.check` in the states a page-cache folio's migration passes through, with
 * the folio mapped shared by a parent and three forked children (the kernel's
 * `remove_migration_ptes(src, dst)` runs after `move_to_new_folio` cleared src->mapping).
 */
function sharedPage(kind: 'file' | 'shmem') {
  const m = machine();
  const { vm } = m;
  const parent = vm.createProcess('parent');
  const file = kind === 'file' ? vm.createFile('data', { content: [5] }) : undefined;
  const flags = kind === 'file' ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS;
  const addr = vm.mmap(parent, { length: PAGE_SIZE, flags, ...(file ? { file } : {}) });
  const mms: MmView[] = [parent];
  function* setUp(): KernelGen<Folio> {
    yield* vm.userWrite(parent, addr, 42);
    for (let c = 0; c < 3; c++) {
      const child = yield* vm.fork(parent, `child${c}`);
      expect(yield* vm.userRead(child, addr)).toBe(42);
      mms.push(child);
    }
    return vm.followPage(parent, addr);
  }
  return { m, vm, addr, mms, setUp };
}

describe('rmap-consistent accepts a page-cache src whose mapping migration already cleared', () => {
  for (const kind of ['file', 'shmem'] as const) {
    it(`${kind}: migration entries in 4 VMAs to a locked src without mapping, dst in the page cache`, () => {
      const { m, vm, addr, mms, setUp } = sharedPage(kind);
      let seen: string[] | null = null;
      m.rt.spawn('main', 0, function* (): KernelGen {
        const src = yield* setUp();
        const dst = yield* migrateFolio(m, src, {
          beforeRemove: (s, d) => {
            for (const mm of mms) {
              const pte = vm.lookupPte(mm, addr);
              expect([pte.kind, pte.pfn]).toEqual(['migration', s]);
            }
            expect(folioTestFlag(m.mem, d, PG_locked)).toBe(true);
            seen = vm.check();
          },
        });
        expect(dst).toBeGreaterThanOrEqual(0);
        for (const mm of mms) expect(yield* vm.userRead(mm, addr)).toBe(42);
      });
      runAndCheck(m);
      expect(seen).toEqual([]);
    });
  }
});

describe('rmap-consistent still reports a page-cache folio mapped wrongly', () => {
  it('a migration entry to a src without mapping whose dst is not locked (the walk skipped)', () => {
    const { m, vm, setUp } = sharedPage('file');
    let seen: string[] = [];
    m.rt.spawn('main', 0, function* (): KernelGen {
      const src = yield* setUp();
      yield* migrateFolio(m, src, {
        beforeRemove: (_s, d) => {
          m.locks.folioUnlock(d);
          seen = vm.check();
          expect(m.locks.folioTrylock(d, 'test')).toBe(true);
        },
      });
    });
    runAndCheck(m);
    expect(seen.filter((p) => p.includes('page-cache folio of null'))).toHaveLength(4);
  });

  it('a migration entry to a src without mapping whose index the page cache does not hold (truncated)', () => {
    const { m, vm, addr, mms, setUp } = sharedPage('shmem');
    let seen: string[] = [];
    m.rt.spawn('main', 0, function* (): KernelGen {
      const src = yield* setUp();
      yield* migrateFolio(m, src, {
        beforeRemove: (_s, d) => {
          // The page cache loses dst (as a truncation would have it, were src not locked).
          const pages = fileOf(mms[0]!, addr).pages as Map<number, Folio>;
          pages.delete(0);
          seen = vm.check();
          pages.set(0, d);
        },
      });
    });
    runAndCheck(m);
    expect(seen.filter((p) => p.includes('page-cache folio of null'))).toHaveLength(4);
  });

  it('a present PTE to a page-cache folio whose mapping was cleared', () => {
    const { m, vm, addr, mms, setUp } = sharedPage('file');
    let seen: string[] = [];
    m.rt.spawn('main', 0, function* (): KernelGen {
      const src = yield* setUp();
      const dst = yield* migrateFolio(m, src);
      folioSetMapping(m.mem, dst, 0, null);
      seen = vm.check();
      folioSetMapping(m.mem, dst, 0, fileOf(mms[0]!, addr));
    });
    runAndCheck(m);
    expect(seen.filter((p) => p.includes('page-cache folio of null'))).toHaveLength(4);
  });
});

/**
 * A task that holds `sem` for read, as an rmap walk does, whenever it can. When someone
 * waits for it and `ready()` says the operation under test is in the window to check, it
 * checks the model there and lets go for good; otherwise it lets the waiter through and
 * takes the lock again later.
 */
function checkWhileHeld(
  m: ReturnType<typeof machine>,
  sem: { downReadTrylock(): boolean; upRead(): void; readonly waiters: number },
  ready: () => boolean,
  out: { problems: string[] | null; held?: boolean },
) {
  m.rt.spawn('walker', 1, function* (): KernelGen {
    for (;;) {
      if (!sem.downReadTrylock()) {
        yield;
        continue;
      }
      out.held = true;
      while (sem.waiters === 0) yield;
      if (ready()) {
        out.problems = m.vm.check();
        sem.upRead();
        return;
      }
      sem.upRead();
      yield;
    }
  });
}

describe('rmap-consistent accepts the windows of munmap, exit and fork', () => {
  // Random scheduling, so that the walker and the operation take turns.
  const machine = () => createRmapMachine({ strategy: 'random', seed: 1 });
  it('munmap: a detached VMA waiting for the anon_vma lock in unlink_anon_vmas still counts as active', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess('p');
    const addr = vm.mmap(p, { length: 3 * PAGE_SIZE });
    const out: { problems: string[] | null; held?: boolean } = { problems: null };
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      const child = yield* vm.fork(p, 'child');
      // Cut the child's VMA in two around a hole: both halves share its anon_vma.
      yield* vm.munmap(child, addr + PAGE_SIZE, PAGE_SIZE);
      const av = vm.folioAnonVma(vm.followPage(p, addr)) as AnonVma;
      checkWhileHeld(m, av.rwsem, () => child.vmaLookup(addr) === null, out);
      while (out.held !== true) yield; // the walker takes the lock
      // The lower half leaves the mm, then waits in unlink_anon_vmas.
      yield* vm.munmap(child, addr, PAGE_SIZE);
      yield* vm.exit(child);
    });
    runAndCheck(m);
    expect(out.problems).toEqual([]);
  });

  it('exit: the VMAs out of the mm, unlinked one by one, still count as active until unlinked', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess('p');
    const a = vm.mmap(p, { length: PAGE_SIZE });
    const b = vm.mmap(p, { length: PAGE_SIZE });
    const out: { problems: string[] | null; held?: boolean } = { problems: null };
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, a, 1);
      yield* vm.userWrite(p, b, 2);
      const child = yield* vm.fork(p, 'child');
      const av = vm.folioAnonVma(vm.followPage(p, b)) as AnonVma;
      checkWhileHeld(m, av.rwsem, () => child.vmaLookup(a) === null, out);
      while (out.held !== true) yield;
      yield* vm.exit(child);
    });
    runAndCheck(m);
    expect(out.problems).toEqual([]);
  });

  it('fork: a child VMA waiting for the i_mmap lock is not yet in the child mm (dup_mmap links it last)', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess('p');
    const file = vm.createFile('data', { content: [3] });
    const addr = vm.mmap(p, { length: PAGE_SIZE, flags: MAP_SHARED, file });
    const out: { problems: string[] | null; held?: boolean } = { problems: null };
    m.rt.spawn('main', 0, function* (): KernelGen {
      expect(yield* vm.userRead(p, addr)).toBe(3);
      checkWhileHeld(m, file.iMmapRwsem, () => true, out);
      while (out.held !== true) yield;
      const child = yield* vm.fork(p, 'child');
      expect(yield* vm.userRead(child, addr)).toBe(3);
    });
    runAndCheck(m);
    expect(out.problems).toEqual([]);
  });
});

describe('rmap-consistent still reports a wrong num_active_vmas', () => {
  it('an anon_vma that counts one active VMA too many, or one too few', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess('p');
    const addr = vm.mmap(p, { length: PAGE_SIZE });
    const seen: string[][] = [];
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      yield* vm.fork(p, 'child');
      const av = vm.folioAnonVma(vm.followPage(p, addr)) as AnonVma;
      for (const by of [1, -1]) {
        av.numActiveVmas += by;
        seen.push(vm.check().filter((x) => x.includes('num_active_vmas')));
        av.numActiveVmas -= by;
      }
    });
    runAndCheck(m);
    expect(seen.map((x) => x.length)).toEqual([1, 1]);
  });
});
