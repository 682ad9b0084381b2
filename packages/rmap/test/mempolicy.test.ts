import { folioAlloc, folioNid, pfnFolio } from '@mmsim/folio';
import { EINVAL, type KernelGen, type Task } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  type Mempolicy,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_F_RELATIVE_NODES,
  MPOL_F_STATIC_NODES,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_MF_DISCONTIG_OK,
  MPOL_MF_INVERT,
  MPOL_MF_MOVE,
  MPOL_MF_STRICT,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
  mpolEqual,
  mpolNew,
  mpolRebindPolicy,
  mpolRelativeNodemask,
  mpolSetNodemask,
  nodemaskNodes,
  nodemaskOf,
  nodesRemap,
  PAGE_SIZE,
} from '../src/index.js';
import { canMergeAdjacent, mutableMm } from '../src/internal.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

/*
 * The policy rules of mm/mempolicy.c (Linux 6.3): mpol_new's validation, the nodes in
 * force within the cpuset, rebinding, and how a fault allocates under each policy.
 */

const ALL4 = nodemaskOf([0, 1, 2, 3]);

/** A made policy (mpol_new + mpol_set_nodemask with every node allowed). */
function policy(mode: number, nodes: number[], flags = 0, mems = ALL4): Mempolicy {
  const mask = nodemaskOf(nodes);
  const pol = mpolNew(mode, flags, mask);
  if (pol === null || typeof pol === 'number') throw new Error(`mpol_new gave ${String(pol)}`);
  expect(mpolSetNodemask(pol, mask, mems, ALL4)).toBe(0);
  return pol;
}

describe('mpol_new and mpol_set_nodemask', () => {
  it('validates modes, nodes and mode flags as mpol_new does', () => {
    const none = nodemaskOf([]);
    const n1 = nodemaskOf([1]);
    expect(mpolNew(MPOL_DEFAULT, 0, none)).toBeNull();
    expect(mpolNew(MPOL_DEFAULT, 0, n1)).toBe(-EINVAL);
    expect((mpolNew(MPOL_PREFERRED, 0, none) as Mempolicy).mode).toBe(MPOL_LOCAL);
    expect(mpolNew(MPOL_PREFERRED, MPOL_F_STATIC_NODES, none)).toBe(-EINVAL);
    expect(mpolNew(MPOL_LOCAL, 0, n1)).toBe(-EINVAL);
    expect(mpolNew(MPOL_LOCAL, MPOL_F_RELATIVE_NODES, none)).toBe(-EINVAL);
    expect(mpolNew(MPOL_BIND, 0, none)).toBe(-EINVAL);
    expect(mpolNew(MPOL_INTERLEAVE, 0, none)).toBe(-EINVAL);
    expect(mpolNew(MPOL_PREFERRED_MANY, 0, none)).toBe(-EINVAL);
    expect((mpolNew(MPOL_BIND, 0, n1) as Mempolicy).mode).toBe(MPOL_BIND);
  });

  it('keeps the nodes within the cpuset mems; none left is EINVAL; PREFERRED keeps its first node', () => {
    const mems = nodemaskOf([1, 2]);
    const bind = mpolNew(MPOL_BIND, 0, nodemaskOf([0, 1, 2])) as Mempolicy;
    expect(mpolSetNodemask(bind, nodemaskOf([0, 1, 2]), mems, ALL4)).toBe(0);
    expect(nodemaskNodes(bind.nodes)).toEqual([1, 2]);
    const outside = mpolNew(MPOL_BIND, 0, nodemaskOf([3])) as Mempolicy;
    expect(mpolSetNodemask(outside, nodemaskOf([3]), mems, ALL4)).toBe(-EINVAL);
    const pref = mpolNew(MPOL_PREFERRED, 0, nodemaskOf([2, 3])) as Mempolicy;
    expect(mpolSetNodemask(pref, nodemaskOf([2, 3]), ALL4, ALL4)).toBe(0);
    expect(nodemaskNodes(pref.nodes)).toEqual([2]);
  });

  it('MPOL_F_RELATIVE_NODES: node i is the i-th allowed node (folded onto their number)', () => {
    expect(nodemaskNodes(mpolRelativeNodemask(nodemaskOf([0, 2]), nodemaskOf([1, 3])))).toEqual([
      1,
    ]);
    expect(nodemaskNodes(mpolRelativeNodemask(nodemaskOf([1]), nodemaskOf([2, 3])))).toEqual([3]);
    const rel = policy(MPOL_BIND, [0], MPOL_F_RELATIVE_NODES, nodemaskOf([2, 3]));
    expect(nodemaskNodes(rel.nodes)).toEqual([2]);
    expect(nodemaskNodes(rel.userNodemask)).toEqual([0]);
  });
});

describe('mpol_rebind_policy (a cpuset changes its mems)', () => {
  it('without mode flags, the nodes are remapped from the old mems to the new ones', () => {
    const pol = policy(MPOL_BIND, [1], 0, nodemaskOf([0, 1]));
    mpolRebindPolicy(pol, nodemaskOf([2, 3]));
    expect(nodemaskNodes(pol.nodes)).toEqual([3]);
    expect(
      nodemaskNodes(nodesRemap(nodemaskOf([0, 1]), nodemaskOf([0, 1]), nodemaskOf([3]))),
    ).toEqual([3]);
  });

  it('MPOL_F_STATIC_NODES keeps the user nodes that remain, else all the new mems', () => {
    const pol = policy(MPOL_BIND, [1], MPOL_F_STATIC_NODES, nodemaskOf([0, 1]));
    mpolRebindPolicy(pol, nodemaskOf([1, 2]));
    expect(nodemaskNodes(pol.nodes)).toEqual([1]);
    mpolRebindPolicy(pol, nodemaskOf([2, 3]));
    expect(nodemaskNodes(pol.nodes)).toEqual([2, 3]);
  });

  it('MPOL_PREFERRED keeps its node (only the cpuset mems are recorded); MPOL_LOCAL has nothing to rebind', () => {
    const pol = policy(MPOL_PREFERRED, [1], 0, nodemaskOf([0, 1]));
    mpolRebindPolicy(pol, nodemaskOf([2, 3]));
    expect(nodemaskNodes(pol.nodes)).toEqual([1]);
    expect(nodemaskNodes(pol.cpusetMemsAllowed)).toEqual([2, 3]);
  });
});

describe('mpol_equal', () => {
  it('equal policies compare equal, a different node, mode or user mask does not', () => {
    expect(mpolEqual(null, null)).toBe(true);
    expect(mpolEqual(policy(MPOL_BIND, [1]), policy(MPOL_BIND, [1]))).toBe(true);
    expect(mpolEqual(policy(MPOL_BIND, [1]), policy(MPOL_BIND, [2]))).toBe(false);
    expect(mpolEqual(policy(MPOL_BIND, [1]), policy(MPOL_INTERLEAVE, [1]))).toBe(false);
    expect(mpolEqual(policy(MPOL_BIND, [1]), null)).toBe(false);
    expect(
      mpolEqual(
        policy(MPOL_BIND, [0], MPOL_F_STATIC_NODES),
        policy(MPOL_BIND, [0, 3], MPOL_F_STATIC_NODES, nodemaskOf([0])),
      ),
    ).toBe(false);
  });
});

/** A four-node machine (CPU i on node i) with an LRU. */
function fourNodes(pages = 64) {
  return machine({ nodes: [pages, pages, pages, pages], cpuNodes: [0, 1, 2, 3], lru: true });
}

/** The nodes of the pages of `[addr, addr + n pages)`, touched by a write from CPU `cpu`. */
function nodesAfterTouch(
  m: ReturnType<typeof fourNodes>,
  n: number,
  setup: (
    task: Task,
    addr: number,
    mm: ReturnType<typeof fourNodes>['vm']['processes'][number],
  ) => void,
  cpu = 0,
): number[] {
  const { vm, mem, rt } = m;
  const mm = vm.createProcess();
  const addr = vm.mmap(mm, { length: n * PAGE_SIZE });
  const out: number[] = [];
  rt.spawn('user', cpu, function* (task): KernelGen {
    setup(task, addr, mm);
    for (let i = 0; i < n; i++) yield* vm.userWrite(mm, addr + i * PAGE_SIZE, i);
    for (let i = 0; i < n; i++)
      out.push(folioNid(mem, pfnFolio(mem, vm.followPage(mm, addr + i * PAGE_SIZE))));
  });
  runAndCheck(m);
  return out;
}

describe('vma_alloc_folio under each policy', () => {
  it("no policy: the faulting CPU's node", () => {
    expect(nodesAfterTouch(fourNodes(), 2, () => {}, 2)).toEqual([2, 2]);
  });

  it('a task interleave policy spreads pages by page offset in the VMA (interleave_nid / offset_il_node)', () => {
    const m = fourNodes();
    const nodes = nodesAfterTouch(m, 6, (task) =>
      m.vm.setTaskMempolicy(task, policy(MPOL_INTERLEAVE, [1, 2, 3])),
    );
    // vm_pgoff of an anonymous VMA is its start >> PAGE_SHIFT (1 mod 3 here): page i goes to
    // the ((vm_pgoff + i) mod 3)-th node of the policy
    const mm = m.vm.processes[0]!;
    const vma = mm.vmas[0]!;
    const expected = [0, 1, 2, 3, 4, 5].map((i) => [1, 2, 3][(vma.pgoff + i) % 3]);
    expect(nodes).toEqual(expected);
    expect(new Set(nodes)).toEqual(new Set([1, 2, 3]));
  });

  it('MPOL_PREFERRED: its node first, then the nearest other node when it is full', () => {
    const m = fourNodes(16);
    const nodes = nodesAfterTouch(m, 3, (task) => {
      m.vm.setTaskMempolicy(task, policy(MPOL_PREFERRED, [2]));
      while (folioAlloc(m.mem, 0, 2, { thisNode: true }) >= 0); // node 2 full
    });
    expect(nodes).toEqual([1, 1, 1]);
  });

  it('MPOL_BIND never leaves its nodes: a full node makes the fault fail (OOM)', () => {
    const m = fourNodes(16);
    const { vm, rt, mem } = m;
    const mm = vm.createProcess();
    const addr = vm.mmap(mm, { length: PAGE_SIZE });
    let ret = 0;
    rt.spawn('user', 0, function* (task): KernelGen {
      vm.setTaskMempolicy(task, policy(MPOL_BIND, [3]));
      while (folioAlloc(mem, 0, 3, { thisNode: true }) >= 0);
      ret = yield* vm.handleUserFault(mm, addr, 1 /* FAULT_FLAG_WRITE */);
    });
    runAndCheck(m, false);
    expect(ret & 1 /* VM_FAULT_OOM */).toBe(1);
  });

  it('MPOL_BIND to several nodes takes the one nearest the faulting CPU', () => {
    const m = fourNodes();
    expect(
      nodesAfterTouch(m, 1, (task) => m.vm.setTaskMempolicy(task, policy(MPOL_BIND, [0, 3])), 3),
    ).toEqual([3]);
    const m2 = fourNodes();
    expect(
      nodesAfterTouch(m2, 1, (task) => m2.vm.setTaskMempolicy(task, policy(MPOL_BIND, [1, 3])), 0),
    ).toEqual([1]);
  });

  it("the task's cpuset mems_allowed constrains a policy-less fault and a preferred one", () => {
    const m = fourNodes();
    expect(nodesAfterTouch(m, 2, (task) => m.vm.setTaskMemsAllowed(task, nodemaskOf([3])))).toEqual(
      [3, 3],
    );
    const m2 = fourNodes();
    const nodes = nodesAfterTouch(m2, 1, (task) => {
      m2.vm.setTaskMemsAllowed(task, nodemaskOf([2, 3]));
      m2.vm.setTaskMempolicy(task, policy(MPOL_PREFERRED, [1]));
    });
    expect(nodes).toEqual([2]);
  });

  it('a VMA policy wins over the task policy', () => {
    const m = fourNodes();
    const nodes = nodesAfterTouch(m, 1, (task, _addr, mm) => {
      m.vm.setTaskMempolicy(task, policy(MPOL_BIND, [1]));
      mutableMm(mm).vmas[0]!.policy = policy(MPOL_BIND, [2]);
    });
    expect(nodes).toEqual([2]);
  });
});

describe('mbind_range: split at the edges, merge back', () => {
  it('a policy on the middle page splits the VMA in three; the default again merges them into one', () => {
    const m = fourNodes();
    const { vm, rt } = m;
    const mm = vm.createProcess();
    const addr = vm.mmap(mm, { length: 3 * PAGE_SIZE });
    const shapes: string[][] = [];
    const shape = () =>
      mm.vmas.map(
        (v) =>
          `${(v.start - addr) / PAGE_SIZE}-${(v.end - addr) / PAGE_SIZE}:${v.policy ?? 'default'}`,
      );
    rt.spawn('user', 0, function* (): KernelGen {
      for (let i = 0; i < 3; i++) yield* vm.userWrite(mm, addr + i * PAGE_SIZE, i);
      yield* mm.mmapLock.downWrite('test');
      yield* vm.mbindRange(mm, addr + PAGE_SIZE, addr + 2 * PAGE_SIZE, policy(MPOL_BIND, [1]));
      shapes.push(shape());
      yield* vm.mbindRange(mm, addr, addr + PAGE_SIZE, policy(MPOL_BIND, [1]));
      shapes.push(shape());
      yield* vm.mbindRange(mm, addr, addr + 3 * PAGE_SIZE, null);
      shapes.push(shape());
      mm.mmapLock.upWrite();
      for (let i = 0; i < 3; i++) expect(yield* vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(i);
    });
    runAndCheck(m);
    expect(shapes).toEqual([
      ['0-1:default', '1-2:bind:1', '2-3:default'],
      ['0-2:bind:1', '2-3:default'],
      ['0-3:default'],
    ]);
  });

  it('canMergeAdjacent (the merge mbind_range uses): alike neighbours merge; another policy, flags, a gap or another anon_vma do not', () => {
    const m = fourNodes();
    const { vm } = m;
    const mm = mutableMm(vm.createProcess());
    const a = vm.mmap(mm, { length: PAGE_SIZE });
    vm.mmap(mm, { length: PAGE_SIZE, addr: a + PAGE_SIZE });
    const [x, y] = mm.vmas;
    expect(canMergeAdjacent(x!, y!, 'prev')).toBe(true);
    y!.policy = policy(MPOL_BIND, [1]);
    expect(canMergeAdjacent(x!, y!, 'prev')).toBe(false);
    y!.policy = null;
    y!.flags ^= 0x1; // VM_READ
    expect(canMergeAdjacent(x!, y!, 'prev')).toBe(false);
    y!.flags ^= 0x1;
    y!.pgoff += 1; // not contiguous
    expect(canMergeAdjacent(x!, y!, 'prev')).toBe(false);
  });
});

describe('queue_pages_range', () => {
  it('with MOVE, queues the pages off the nodes (INVERT); STRICT alone over a misplaced page is -EIO; a hole is -EFAULT', () => {
    const m = fourNodes();
    const { vm, rt } = m;
    const mm = vm.createProcess();
    const addr = vm.mmap(mm, { length: 2 * PAGE_SIZE });
    const got: unknown[] = [];
    rt.spawn('user', 0, function* (): KernelGen {
      yield* vm.userWrite(mm, addr, 1);
      yield* vm.userWrite(mm, addr + PAGE_SIZE, 2);
      const isolated: number[] = [];
      const isolate = function* (folio: number): KernelGen<boolean> {
        isolated.push(folio);
        return true;
      };
      yield* mm.mmapLock.downRead('test');
      const on1 = nodemaskOf([1]);
      got.push(
        yield* vm.queuePagesRange(
          mm,
          addr,
          addr + 2 * PAGE_SIZE,
          on1,
          MPOL_MF_MOVE | MPOL_MF_INVERT,
          isolate,
        ),
      );
      got.push(isolated.length);
      got.push(
        (yield* vm.queuePagesRange(
          mm,
          addr,
          addr + 2 * PAGE_SIZE,
          on1,
          MPOL_MF_STRICT | MPOL_MF_INVERT,
          isolate,
        )).ret,
      );
      got.push(
        (yield* vm.queuePagesRange(
          mm,
          addr,
          addr + 2 * PAGE_SIZE,
          nodemaskOf([0]),
          MPOL_MF_STRICT | MPOL_MF_INVERT,
          isolate,
        )).ret,
      );
      got.push(
        (yield* vm.queuePagesRange(
          mm,
          addr,
          addr + 3 * PAGE_SIZE,
          on1,
          MPOL_MF_MOVE | MPOL_MF_INVERT,
          isolate,
        )).ret,
      );
      got.push(
        (yield* vm.queuePagesRange(
          mm,
          addr + 4 * PAGE_SIZE,
          addr + 5 * PAGE_SIZE,
          on1,
          MPOL_MF_MOVE | MPOL_MF_DISCONTIG_OK,
          isolate,
        )).ret,
      );
      mm.mmapLock.upRead();
    });
    runAndCheck(m, false);
    expect(got).toEqual([{ ret: 0, queued: 2 }, 2, -5, 0, -14, -14]);
  });
});
