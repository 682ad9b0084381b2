import {
  folioMapcount,
  folioRefCount,
  folioTestFlag,
  PG_anon_exclusive,
  pageTestFlag,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { type MmView, TTU_BATCH_FLUSH, type VmaView } from '../src/index.js';
import { freePages, createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

/**
 * A page COW-shared by a process and 20 descendants (a tree: children and grandchildren):
 * rmap finds all 21 mappings through the anon_vma tree, try_to_migrate replaces all of
 * them, remove_migration_ptes maps all of them to the new frame.
 */
describe('fork tree of 21 processes sharing one anonymous page', () => {
  it('walks, unmaps and remaps all 21 mappings', () => {
    const m = machine();
    const { vm, mem, locks } = m;
    const root = vm.createProcess('root');
    const addr = vm.mmap(root, { length: 4 * 4096 });
    const procs: MmView[] = [root];
    const before = freePages(mem);
    let src = -1;
    let dst = -1;

    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(root, addr, 42);
      src = vm.followPage(root, addr);
      expect(pageTestFlag(mem, src, PG_anon_exclusive)).toBe(true);
      // A tree: each new process forks from one picked among the existing ones.
      for (let i = 1; i <= 20; i++) {
        const parent = procs[Math.floor((i - 1) / 2)]!;
        procs.push(yield* vm.fork(parent, `p${i}`));
      }
      expect(procs).toHaveLength(21);
      expect(pageTestFlag(mem, src, PG_anon_exclusive)).toBe(false);
      expect(folioMapcount(mem, src)).toBe(21);
      expect(folioRefCount(mem, src)).toBe(21);

      // rmap_walk finds every mapping through the root anon_vma's tree.
      const seen = new Set<MmView>();
      yield* locks.folioLock(src, 'test');
      yield* vm.rmapWalk(src, {
        rmapOne: (_folio, vma: VmaView, address: number) => {
          expect(address).toBe(addr);
          seen.add(vma.mm);
          return true;
        },
      });
      locks.folioUnlock(src);
      expect(seen.size).toBe(21);
      expect(vm.folioMappings(src)).toHaveLength(21);

      // Migration of the shared page.
      let unmapped = 0;
      dst = yield* migrateFolio(m, src, {
        node: 1,
        flags: TTU_BATCH_FLUSH,
        whileUnmapped: (folio) => {
          unmapped = vm.folioMappings(folio).filter((x) => x.entry.kind === 'migration').length;
          expect(folioMapcount(mem, folio)).toBe(0);
          expect(folioRefCount(mem, folio)).toBe(1); // only the isolation reference
        },
      });
      expect(unmapped).toBe(21);
      expect(dst).toBeGreaterThanOrEqual(0);
      expect(pfnValid(mem, src) && pfnFolio(mem, src) === src).toBe(false); // src freed

      // Every process reads the same content through the same new pfn.
      for (const p of procs) {
        expect(yield* vm.userRead(p, addr)).toBe(42);
        expect(vm.followPage(p, addr)).toBe(dst);
        expect(vm.lookupPte(p, addr)).toMatchObject({ kind: 'present', write: false });
      }
      // Where the kernel's counts end: one mapping and one reference per process.
      expect(folioMapcount(mem, dst)).toBe(21);
      expect(folioRefCount(mem, dst)).toBe(21);
      expect(folioTestFlag(mem, dst, PG_anon_exclusive)).toBe(false);
      expect(pageTestFlag(mem, dst, PG_anon_exclusive)).toBe(false);

      // Exits free everything: the page and every anon_vma.
      for (const p of procs.reverse()) yield* vm.exit(p);
    });
    runAndCheck(m);
    expect(vm.liveAnonVmas).toBe(0);
    expect(freePages(mem)).toEqual(before);
  });

  it('an exclusive page migrates with a writable entry and comes back exclusive', () => {
    const m = machine({ cpuNodes: [0, 0] });
    const { vm, mem } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    const events: Array<{ name: string; fields: unknown }> = [];
    m.rt.trace.on('set_migration_pte', (e) => events.push(e));
    m.rt.trace.on('remove_migration_pte', (e) => events.push(e));
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 7);
      const src = vm.followPage(p, addr);
      const dst = yield* migrateFolio(m, src, {
        node: 1,
        whileUnmapped: () => {
          expect(vm.lookupPte(p, addr)).toMatchObject({
            kind: 'migration',
            migration: 'writable',
            young: true,
            dirty: true,
          });
        },
      });
      const view = vm.lookupPte(p, addr);
      expect(view).toMatchObject({
        kind: 'present',
        pfn: dst,
        write: true,
        young: true,
        dirty: true,
      });
      expect(pageTestFlag(mem, dst, PG_anon_exclusive)).toBe(true);
      expect(folioTestFlag(mem, dst, 3)).toBe(true); // PG_dirty carried from the PTE
      yield* vm.userWrite(p, addr, 8); // writable again, no fault needed
      expect(yield* vm.userRead(p, addr)).toBe(8);
      yield* vm.exit(p);
    });
    runAndCheck(m);
    expect(events.map((e) => e.name)).toEqual(['set_migration_pte', 'remove_migration_pte']);
    expect(events[0]!.fields).toMatchObject({ addr, order: 0 });
  });
});
