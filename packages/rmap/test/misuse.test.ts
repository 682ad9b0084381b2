import { folioGet, folioMapcount, folioPut, folioRefCount } from '@mmsim/folio';
import { type KernelGen, MmsimError, type MmsimErrorCode } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_READ,
  TTU_BATCH_FLUSH,
  TTU_IGNORE_MLOCK,
  VirtualMemory,
} from '../src/index.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

function* expectThrows(code: MmsimErrorCode, body: () => KernelGen<unknown>): KernelGen {
  let caught: unknown = null;
  try {
    yield* body();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MmsimError);
  expect((caught as MmsimError).code).toBe(code);
}

function expectThrowsNow(code: MmsimErrorCode, body: () => unknown): void {
  let caught: unknown = null;
  try {
    body();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MmsimError);
  expect((caught as MmsimError).code).toBe(code);
}

describe('misuse gets a typed error and leaves the model consistent', () => {
  it('addresses outside every VMA, unmapped addresses, pfns the process does not hold', () => {
    const m = machine();
    const { vm, mem, locks } = m;
    const p = vm.createProcess('p');
    const q = vm.createProcess('q');
    const addr = vm.mmap(p, { length: 2 * 4096 });
    const ro = vm.mmap(p, { length: 4096, prot: PROT_READ });
    const qaddr = vm.mmap(q, { length: 4096 });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      yield* vm.userWrite(q, qaddr, 2);
      const page = vm.followPage(p, addr);
      const qpage = vm.followPage(q, qaddr);
      // Outside every VMA.
      yield* expectThrows('INVALID_ARGUMENT', () => vm.userRead(p, addr + 16 * 4096));
      yield* expectThrows('INVALID_ARGUMENT', () => vm.userWrite(p, 0x1000, 5));
      yield* expectThrows('INVALID_ARGUMENT', () => vm.pinUserPage(p, addr - 4096, false));
      expectThrowsNow('INVALID_ARGUMENT', () => vm.lookupPte(p, addr + 16 * 4096));
      // In a VMA but not mapped (never touched).
      expectThrowsNow('INVALID_ARGUMENT', () => vm.followPage(p, addr + 4096));
      expect(vm.lookupPte(p, addr + 4096).kind).toBe('none');
      // Against the VMA's protection.
      yield* expectThrows('INVALID_ARGUMENT', () => vm.userWrite(p, ro, 3));
      // A pfn the process does not own: q's page, a free frame, p's page it never pinned.
      yield* expectThrows('INVALID_ARGUMENT', () => vm.unpinUserPage(p, qpage));
      yield* expectThrows('INVALID_ARGUMENT', () => vm.unpinUserPage(p, page));
      yield* expectThrows('INVALID_ARGUMENT', () => vm.unpinUserPage(p, -1));
      // Nothing changed.
      expect(folioRefCount(mem, page)).toBe(1);
      expect(folioMapcount(mem, qpage)).toBe(1);
      expect(yield* vm.userRead(p, addr)).toBe(1);
      expect(yield* vm.userRead(q, qaddr)).toBe(2);

      // try_to_migrate: flags it does not take, a folio not locked, no reference of our own.
      folioGet(mem, page);
      yield* locks.folioLock(page, 'test');
      yield* expectThrows('INVALID_ARGUMENT', () => vm.tryToMigrate(page, TTU_IGNORE_MLOCK));
      yield* expectThrows('INVALID_ARGUMENT', () => vm.tryToMigrate(page, 0x10000));
      expect(vm.lookupPte(p, addr).kind).toBe('present');
      locks.folioUnlock(page);
      yield* expectThrows('CONTRACT_VIOLATION', () => vm.tryToMigrate(page, TTU_BATCH_FLUSH));
      folioPut(mem, page);
      yield* locks.folioLock(page, 'test');
      yield* expectThrows('CONTRACT_VIOLATION', () => vm.tryToMigrate(page, 0));
      locks.folioUnlock(page);
      expect(vm.lookupPte(p, addr)).toMatchObject({ kind: 'present', pfn: page });

      // munmap / exit misuse.
      yield* expectThrows('INVALID_ARGUMENT', () => vm.munmap(p, addr + 1, 4096));
      yield* vm.exit(q);
      yield* expectThrows('INVALID_STATE', () => vm.exit(q));
      yield* expectThrows('INVALID_STATE', () => vm.userRead(q, qaddr));
      yield* vm.exit(p);
    });
    runAndCheck(m);
  });

  it('mmap refuses bad arguments without changing the mm', () => {
    const m = machine();
    const { vm } = m;
    const p = vm.createProcess();
    const other = machine().vm.createFile('elsewhere');
    const addr = vm.mmap(p, { length: 4096 });
    const cases: Array<() => unknown> = [
      () => vm.mmap(p, { length: 0 }),
      () => vm.mmap(p, { length: 4096, prot: 8 }),
      () => vm.mmap(p, { length: 4096, flags: MAP_PRIVATE | MAP_ANONYMOUS | 0x80000 }),
      () => vm.mmap(p, { length: 4096, flags: MAP_ANONYMOUS }),
      () => vm.mmap(p, { length: 4096, flags: MAP_PRIVATE }),
      () => vm.mmap(p, { length: 4096, flags: MAP_PRIVATE, file: other }),
      () => vm.mmap(p, { length: 4096, addr: addr + 1 }),
      () => vm.mmap(p, { length: 4096, addr, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED }),
      () => vm.mmap(p, { length: 4096, policy: { mode: 'bind', node: 7 } }),
    ];
    for (const c of cases) expectThrowsNow('INVALID_ARGUMENT', c);
    expect(p.vmas).toHaveLength(1);
    expect(vm.check()).toEqual([]);
  });

  it('VirtualMemory refuses a vmstat or CPUs that do not fit the memory', () => {
    const a = machine({ nodes: [1024], cpuNodes: [0] });
    const b = machine({ nodes: [1024, 1024] });
    expectThrowsNow('INVALID_CONFIG', () => new VirtualMemory(a.rt, a.mem, a.locks, b.vmstat));
    expectThrowsNow('INVALID_CONFIG', () => new VirtualMemory(b.rt, a.mem, a.locks, a.vmstat));
  });
});
