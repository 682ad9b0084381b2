import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  type Mempolicy,
  MPOL_BIND,
  mpolNew,
  mpolSetNodemask,
  nodemaskOf,
  PROT_READ,
  PROT_WRITE,
} from '../src/index.js';
import { mappedProcess, PAGE, runInTask, spans } from './vma-fixture.js';

/** VMA merging (vma-merge.ts): the one merge of mprotect, madvise and mbind_range. */

function bindTo(node: number): Mempolicy {
  const all = nodemaskOf([0, 1]);
  const pol = mpolNew(MPOL_BIND, 0, nodemaskOf([node]));
  if (pol === null || typeof pol === 'number') throw new Error(`mpol_new gave ${String(pol)}`);
  expect(mpolSetNodemask(pol, nodemaskOf([node]), all, all)).toBe(0);
  return pol;
}

describe('vma merge', () => {
  it('mbind_range merges a VMA without an anon_vma into a neighbour that has one (is_mergeable_anon_vma), as vma_merge does', () => {
    const { m, vm, p, a } = mappedProcess(2);
    const shapes: number[][][] = [];
    runInTask(m, function* (): KernelGen {
      yield* p.mmapLock.downWrite('test');
      yield* vm.mbindRange(p, a + PAGE, a + 2 * PAGE, bindTo(1));
      p.mmapLock.upWrite();
      shapes.push(spans(p.vmas, a));
      // Only the first VMA gets an anon_vma; the second has none.
      yield* vm.userWrite(p, a, 5);
      expect(p.vmas[0]!.anonVma).not.toBeNull();
      expect(p.vmas[1]!.anonVma).toBeNull();
      yield* p.mmapLock.downWrite('test');
      yield* vm.mbindRange(p, a + PAGE, a + 2 * PAGE, null);
      p.mmapLock.upWrite();
      shapes.push(spans(p.vmas, a));
      expect(p.vmas[0]!.policy).toBeNull();
      expect(yield* vm.userRead(p, a)).toBe(5);
    });
    expect(shapes).toEqual([
      [
        [0, 1],
        [1, 2],
      ],
      [[0, 2]],
    ]);
  });

  it('a merge takes the anon_vma lock for write: mprotect merging back waits for an rmap walk holding it', () => {
    const { m, vm, rt, p, a } = mappedProcess(3);
    const held = new Completion(rt, 'held');
    const log: string[] = [];
    runInTask(m, function* (): KernelGen {
      for (let i = 0; i < 3; i++) yield* vm.userWrite(p, a + i * PAGE, i);
      expect(yield* vm.mprotect(p, a + PAGE, PAGE, PROT_READ)).toBe(0);
      expect(p.vmas).toHaveLength(3);
      const av = p.vmas[1]!.anonVma!;
      rt.spawn('rmap-walk', 1, function* (): KernelGen {
        yield* av.rwsem.downRead('rmap_walk');
        held.complete();
        yield* rt.sleepFor(10_000);
        log.push(`walk done, ${p.vmas.length} VMAs`);
        av.rwsem.upRead();
      });
      yield* held.wait();
      expect(yield* vm.mprotect(p, a + PAGE, PAGE, PROT_READ | PROT_WRITE)).toBe(0);
      log.push('merged');
      expect(spans(p.vmas, a)).toEqual([[0, 3]]);
    });
    expect(log).toEqual(['walk done, 3 VMAs', 'merged']);
  });
});
