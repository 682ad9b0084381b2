import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, PMD_SIZE } from '../src/index.js';
import { createRmapMachine as machine } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

describe('presentPfnAt (follow_page without the decoded view)', () => {
  it('gives the pfn of a present PTE or PMD and -1 for none or a migration entry, as lookupPte', () => {
    const m = machine({ nodes: [8192, 8192] });
    const { vm, rt } = m;
    const p = vm.createProcess();
    const small = vm.mmap(p, { length: 4 * PAGE_SIZE });
    const huge = vm.mmap(p, { length: PMD_SIZE, hugepage: true });
    const seen: Array<[number, number]> = [];
    const agree = (addr: number) => {
      const view = vm.lookupPte(p, addr);
      const pfn = vm.presentPfnAt(p, addr);
      seen.push([view.kind === 'present' ? view.pfn : -1, pfn]);
    };
    rt.spawn('t', 0, function* (): KernelGen {
      agree(small); // nothing there yet
      yield* vm.userWrite(p, small, 1);
      yield* vm.userWrite(p, small + PAGE_SIZE, 2);
      yield* vm.userWrite(p, huge, 3);
      agree(small);
      agree(small + PAGE_SIZE);
      agree(small + 3 * PAGE_SIZE);
      agree(huge);
      agree(huge + 17 * PAGE_SIZE); // a page inside the PMD mapping: head + 17
      expect(vm.presentPfnAt(p, huge + 17 * PAGE_SIZE)).toBe(vm.presentPfnAt(p, huge) + 17);
      const src = vm.followPage(p, small);
      yield* migrateFolio(m, src, {
        whileUnmapped: () => {
          expect(vm.lookupPte(p, small).kind).toBe('migration');
          agree(small); // a migration entry
          expect(vm.presentPfnAt(p, small)).toBe(-1);
        },
      });
      agree(small);
      expect(vm.presentPfnAt(p, small)).not.toBe(src);
      expect(() => vm.presentPfnAt(p, small + 64 * PMD_SIZE)).toThrow(MmsimError);
      expect(() => vm.presentPfnAt(p, 0.5)).toThrow(/outside every VMA/);
      yield* vm.exit(p);
    });
    expect(rt.run().status).toBe('completed');
    expect(seen.length).toBe(8);
    for (const [want, got] of seen) expect(got).toBe(want);
    expect(seen.filter(([want]) => want >= 0).length).toBe(5);
  });
});
