import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '@mmsim/rmap';
import { EBUSY, EINVAL, ENOSPC, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MPOL_BIND,
  MPOL_F_ADDR,
  MPOL_F_STATIC_NODES,
  MPOL_INTERLEAVE,
  nodemaskWords,
  nodesOfWords,
  type Sys,
} from '../src/index.js';
import { addrOnNode, cpuOfNode, MAXNODE, numaMachine } from './numa-helpers.js';

/*
 * LTP cpuset_memory_test 9-12 (ltp/testcases/kernel/controllers/cpuset/cpuset_memory_test/
 * cpuset_memory_testset.sh and cpuset_memory_test.c --mmap-anon): a test process that
 * allocates, touches and prints the node of anonymous memory on each signal, and a shell
 * that moves it between cpusets or changes cpuset.mems. Signals are checkpoints here: the
 * shell wakes checkpoint 1, the test process wakes checkpoint 2 when it has printed.
 */

const MEMSIZE = 4 * 4096;

/**
 * cpuset_memory_test --mmap-anon [--check]: on each SIGUSR1, alternately map and touch
 * anonymous memory (printing its node) or (with --check, touch and print again, then)
 * unmap it; stops after `signals` signals.
 */
function memoryTest(check: boolean, signals: number, printed: number[]) {
  return function* (sys: Sys): KernelGen<number> {
    let p = 0;
    let allocated = false;
    for (let i = 0; i < signals; i++) {
      yield* sys.checkpointWait(1); // sigwaitinfo(SIGUSR1)
      if (!allocated) {
        p = yield* sys.mmap(0, MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        for (let off = 0; off < MEMSIZE; off += 4096) yield* sys.write(p + off, 0xef);
        printed.push(yield* addrOnNode(sys, p)); // cpuset_addr2node
      } else {
        if (check) {
          for (let off = 0; off < MEMSIZE; off += 4096) yield* sys.write(p + off, 0xef);
          printed.push(yield* addrOnNode(sys, p));
        }
        yield* sys.munmap(p, MEMSIZE);
      }
      allocated = !allocated;
      sys.checkpointWake(2);
    }
    return 0;
  };
}

/** The shell: `signal` is `kill -s SIGUSR1` and waiting for the test to be done with it. */
function* signal(sys: Sys): KernelGen {
  sys.checkpointWake(1);
  yield* sys.checkpointWait(2);
}

/** talk2memory_test_for_case_10_11: tasks -> cpuset 1, signal, tasks -> cpuset 2, signal, signal. */
function cases9and10(memoryMigrate: boolean): number[] {
  const { kernel, user } = numaMachine(2);
  const cs1 = user.createCpuset('1', { mems: [0] });
  const cs2 = user.createCpuset('2', { mems: [1], memoryMigrate });
  const shell = user.createProcess({ name: 'sh' });
  const printed: number[] = [];
  // cpus_all: the test runs on a CPU of node 1, so only the cpusets decide
  const test = user.createProcess({ name: 'cpuset_memory_test' });
  user.spawnThread(test, cpuOfNode(1), memoryTest(true, 3, printed));
  user.spawnThread(shell, 0, function* (sys) {
    expect(yield* sys.cpusetAttach(test.pid, cs1)).toBe(0);
    yield* signal(sys);
    expect(yield* sys.cpusetAttach(test.pid, cs2)).toBe(0);
    yield* signal(sys);
    yield* signal(sys);
  });
  expect(kernel.run().deadlock).toBeNull();
  return printed;
}

/** talk2memory_test_for_case_12_13: tasks -> cpuset 0 (mems 1), signal, mems = 0, signal, signal. */
function cases11and12(memoryMigrate: boolean, check: boolean): number[] {
  const { kernel, user } = numaMachine(2);
  const cs0 = user.createCpuset('0', { mems: [1], memoryMigrate });
  const shell = user.createProcess({ name: 'sh' });
  const printed: number[] = [];
  // cpu_of_node0: the test runs on node 0's CPU while its memory must come from node 1
  const test = user.createProcess({ name: 'cpuset_memory_test' });
  user.spawnThread(test, cpuOfNode(0), memoryTest(check, 3, printed));
  user.spawnThread(shell, 0, function* (sys) {
    expect(yield* sys.cpusetAttach(test.pid, cs0)).toBe(0);
    yield* signal(sys);
    expect(yield* sys.cpusetSetMems(cs0, [0])).toBe(0);
    yield* signal(sys);
    yield* signal(sys);
  });
  expect(kernel.run().deadlock).toBeNull();
  return printed;
}

describe('LTP cpuset_memory_test', () => {
  it('cpuset_memory_test 9: moved to another cpuset without memory_migrate, old pages stay, new ones follow', () => {
    expect(cases9and10(false)).toEqual([0, 0, 1]);
  });

  it('cpuset_memory_test 10: with memory_migrate, the pages follow the task to the new cpuset', () => {
    expect(cases9and10(true)).toEqual([0, 1, 1]);
  });

  it('cpuset_memory_test 11: cpuset.mems changed without memory_migrate: only new memory is on the new node', () => {
    expect(cases11and12(false, false)).toEqual([1, 0]);
  });

  it('cpuset_memory_test 12: cpuset.mems changed with memory_migrate: the old memory moves as well', () => {
    expect(cases11and12(true, true)).toEqual([1, 0, 0]);
  });
});

describe('cpusets and memory policies', () => {
  it('changing cpuset.mems rebinds the policies: plain nodes are remapped, STATIC nodes kept or replaced by all mems', () => {
    const { kernel, user } = numaMachine(4);
    const cs = user.createCpuset('cs', { mems: [0, 1], memoryMigrate: true });
    const shell = user.createProcess({ name: 'sh' });
    const p = user.createProcess({ name: 'p', cpuset: cs });
    const seen: unknown[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const a = yield* sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      const b = yield* sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      expect(yield* sys.mbind(a, 4096, MPOL_BIND, nodemaskWords([1]), MAXNODE, 0)).toBe(0);
      expect(
        yield* sys.mbind(b, 4096, MPOL_BIND | MPOL_F_STATIC_NODES, nodemaskWords([1]), MAXNODE, 0),
      ).toBe(0);
      yield* sys.write(a, 1);
      yield* sys.write(b, 2);
      seen.push(yield* addrOnNode(sys, a), yield* addrOnNode(sys, b));
      sys.checkpointWake(1);
      yield* sys.checkpointWait(2);
      // after mems {0,1} -> {2,3}, memory_migrate moved the pages by node_remap (1 is the
      // 2nd old node, so both go to 3, whatever their policy); a's policy is rebound to {3}
      seen.push(yield* addrOnNode(sys, a), yield* addrOnNode(sys, b));
      const mode = { value: -1 };
      const mask: bigint[] = [];
      expect(yield* sys.getMempolicy(mode, mask, MAXNODE, a, MPOL_F_ADDR)).toBe(0);
      seen.push(nodesOfWords(mask));
      // b's MPOL_F_STATIC_NODES policy shows the user's nodes
      expect(yield* sys.getMempolicy(mode, mask, MAXNODE, b, MPOL_F_ADDR)).toBe(0);
      seen.push(nodesOfWords(mask));
      const c = yield* sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      expect(yield* sys.mbind(c, 8192, MPOL_INTERLEAVE, nodemaskWords([2, 3]), MAXNODE, 0)).toBe(0);
      yield* sys.write(c, 3);
      yield* sys.write(c + 4096, 4);
      seen.push(new Set([yield* addrOnNode(sys, c), yield* addrOnNode(sys, c + 4096)]).size);
    });
    user.spawnThread(shell, 1, function* (sys) {
      yield* sys.checkpointWait(1);
      expect(yield* sys.cpusetSetMems(cs, [2, 3])).toBe(0);
      sys.checkpointWake(2);
    });
    expect(kernel.run().deadlock).toBeNull();
    expect(seen).toEqual([1, 1, 3, 3, [3], [1], 2]);
  });

  it("cpuset.mems errors: outside the parent -EINVAL, empty with tasks -ENOSPC, dropping a child's node -EBUSY; attaching to an empty cpuset -ENOSPC", () => {
    const { kernel, user } = numaMachine(3);
    const parent = user.createCpuset('parent', { mems: [0, 1] });
    const child = user.createCpuset('child', { mems: [1], parent });
    const empty = user.createCpuset('empty', { mems: [] });
    const shell = user.createProcess({ name: 'sh' });
    const p = user.createProcess({ name: 'p', cpuset: parent });
    const seen: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      yield* sys.checkpointWait(0);
    });
    user.spawnThread(shell, 0, function* (sys) {
      seen.push(yield* sys.cpusetSetMems(child, [2]), sys.errno);
      seen.push(yield* sys.cpusetSetMems(parent, []), sys.errno);
      seen.push(yield* sys.cpusetSetMems(parent, [0]), sys.errno);
      seen.push(yield* sys.cpusetAttach(p.pid, empty), sys.errno);
      seen.push(yield* sys.cpusetSetMems(child, [0]));
      sys.checkpointWake(0);
    });
    expect(kernel.run().deadlock).toBeNull();
    expect(seen).toEqual([-1, EINVAL, -1, ENOSPC, -1, EBUSY, -1, ENOSPC, 0]);
  });
});
