import { folioAlloc } from '@mmsim/folio';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '@mmsim/rmap';
import { EFAULT, EINVAL, EIO, EPERM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  CAP_SYS_NICE,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_F_ADDR,
  MPOL_F_MEMS_ALLOWED,
  MPOL_F_NODE,
  MPOL_F_RELATIVE_NODES,
  MPOL_F_STATIC_NODES,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_MAX,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  MPOL_MF_STRICT,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
  nodemaskWords,
  nodesOfWords,
  SYSCALLS,
  type Sys,
} from '../src/index.js';
import { addrOnNode, MAXNODE, numaMachine } from './numa-helpers.js';

/*
 * LTP mbind03 (ltp/testcases/kernel/syscalls/mbind/mbind03.c), the mbind(2) points of the
 * man page, and set_mempolicy(2) / get_mempolicy(2).
 */

const RW = PROT_READ | PROT_WRITE;
const PRIVATE = MAP_PRIVATE | MAP_ANONYMOUS;
const PAGE = 4096;
/** libnuma's `numa_allocate_nodemask()->size + 1`, as mbind03 passes it. */
const BM_MAXNODE = MAXNODE + 1;

function run(
  nodes: number,
  body: (sys: Sys) => KernelGen<unknown>,
  options: { uid?: number } = {},
) {
  const { kernel, user } = numaMachine(nodes);
  const p = user.createProcess({ name: 'ltp', uid: options.uid ?? 0 });
  user.spawnThread(p, 0, body);
  expect(kernel.run().deadlock).toBeNull();
  return { kernel, user, process: p };
}

/** LTP's tse_nodemap_count_pages for one mapping: pages per node, by get_mempolicy. */
function* countPages(sys: Sys, addr: number, pages: number, nodes: number): KernelGen<number[]> {
  const counts = new Array<number>(nodes).fill(0);
  for (let i = 0; i < pages; i++) counts[yield* addrOnNode(sys, addr + i * PAGE)]!++;
  return counts;
}

describe('LTP mbind03', () => {
  for (const [name, mode] of [
    ['MPOL_PREFERRED', MPOL_PREFERRED],
    ['MPOL_BIND', MPOL_BIND],
    ['MPOL_INTERLEAVE', MPOL_INTERLEAVE],
  ] as const) {
    for (const [flagName, flag] of [
      ['MPOL_MF_MOVE', MPOL_MF_MOVE],
      ['MPOL_MF_MOVE_ALL', MPOL_MF_MOVE_ALL],
    ] as const) {
      it(`mbind03: mbind(${name}, ${flagName}) moves the faulted page to the node that had none`, () => {
        const seen: unknown[] = [];
        run(2, function* (sys) {
          const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE); // tse_numa_map
          yield* sys.write(ptr, 1); // tse_numa_fault
          const before = yield* countPages(sys, ptr, 1, 2);
          const node = before.indexOf(0);
          seen.push(before, node);
          seen.push(yield* sys.mbind(ptr, PAGE, mode, nodemaskWords([node]), BM_MAXNODE, flag));
          seen.push(yield* countPages(sys, ptr, 1, 2), yield* sys.read(ptr));
        });
        expect(seen).toEqual([[1, 0], 1, 0, [0, 1], 1]);
      });
    }
  }
});

describe('mbind(2): the migration-related points of the man page (K.4)', () => {
  it("MPOL_MF_MOVE moves the range's pages to follow the policy but not a page shared with another process; MOVE_ALL moves it too", () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const ptr = yield* sys.mmap(0, 2 * PAGE, RW, PRIVATE);
      yield* sys.write(ptr, 1);
      const child = yield* sys.fork(function* (c) {
        yield* c.checkpointWait(0); // keeps the COW-shared first page mapped twice
      });
      yield* sys.write(ptr + PAGE, 2); // after the fork: the second page is the parent's alone
      expect(
        yield* sys.mbind(ptr, 2 * PAGE, MPOL_BIND, nodemaskWords([1]), BM_MAXNODE, MPOL_MF_MOVE),
      ).toBe(0);
      seen.push(yield* addrOnNode(sys, ptr), yield* addrOnNode(sys, ptr + PAGE));
      expect(
        yield* sys.mbind(
          ptr,
          2 * PAGE,
          MPOL_BIND,
          nodemaskWords([1]),
          BM_MAXNODE,
          MPOL_MF_MOVE_ALL,
        ),
      ).toBe(0);
      seen.push(yield* addrOnNode(sys, ptr));
      sys.checkpointWake(0);
      yield* sys.waitpid(child);
    });
    expect(seen).toEqual([0, 1, 1]);
  });

  it('MPOL_MF_MOVE_ALL without CAP_SYS_NICE is EPERM', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      sys.capDrop(CAP_SYS_NICE);
      seen.push(
        yield* sys.mbind(ptr, PAGE, MPOL_BIND, nodemaskWords([1]), BM_MAXNODE, MPOL_MF_MOVE_ALL),
        sys.errno,
      );
    });
    expect(seen).toEqual([-1, EPERM]);
  });

  it('MPOL_MF_STRICT: a misplaced page without MOVE is EIO; with MOVE, a page that does not migrate is EIO', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const vm = sys.userland.kernel.vm;
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      yield* sys.write(ptr, 1);
      const one = nodemaskWords([1]);
      seen.push(yield* sys.mbind(ptr, PAGE, MPOL_BIND, one, BM_MAXNODE, MPOL_MF_STRICT), sys.errno);
      sys.errno = 0;
      // the page on the policy's node already: nothing to do, no error
      seen.push(
        yield* sys.mbind(ptr, PAGE, MPOL_BIND, nodemaskWords([0]), BM_MAXNODE, MPOL_MF_STRICT),
      );
      const pfn = yield* vm.pinUserPage(sys.mm, ptr, true);
      seen.push(
        yield* sys.mbind(ptr, PAGE, MPOL_BIND, one, BM_MAXNODE, MPOL_MF_MOVE | MPOL_MF_STRICT),
        sys.errno,
      );
      sys.errno = 0;
      seen.push(yield* sys.mbind(ptr, PAGE, MPOL_BIND, one, BM_MAXNODE, MPOL_MF_MOVE), sys.errno);
      yield* vm.unpinUserPage(sys.mm, pfn);
      seen.push(yield* addrOnNode(sys, ptr));
    });
    expect(seen).toEqual([-1, EIO, 0, -1, EIO, 0, 0, 0]);
  });

  it('MPOL_INTERLEAVE: pages already on one of the nodes are not moved', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const ptr = yield* sys.mmap(0, 2 * PAGE, RW, PRIVATE);
      // page 0 on node 1, page 1 on node 0: the opposite of where interleave would put them
      expect(yield* sys.mbind(ptr, PAGE, MPOL_BIND, nodemaskWords([1]), BM_MAXNODE, 0)).toBe(0);
      yield* sys.write(ptr, 1);
      yield* sys.write(ptr + PAGE, 2);
      const both = nodemaskWords([0, 1]);
      expect(yield* sys.mbind(ptr, 2 * PAGE, MPOL_INTERLEAVE, both, BM_MAXNODE, MPOL_MF_MOVE)).toBe(
        0,
      );
      seen.push(yield* addrOnNode(sys, ptr), yield* addrOnNode(sys, ptr + PAGE));
    });
    expect(seen).toEqual([1, 0]);
  });

  it('a hole in the range is EFAULT (the policy is not applied); MPOL_DEFAULT tolerates it, unless the range is all hole', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const ptr = yield* sys.mmap(0, 3 * PAGE, RW, PRIVATE);
      yield* sys.munmap(ptr + PAGE, PAGE);
      const one = nodemaskWords([1]);
      seen.push(yield* sys.mbind(ptr, 3 * PAGE, MPOL_BIND, one, BM_MAXNODE, 0), sys.errno);
      sys.errno = 0;
      yield* sys.write(ptr, 1);
      seen.push(yield* addrOnNode(sys, ptr));
      seen.push(yield* sys.mbind(ptr, 3 * PAGE, MPOL_DEFAULT, null, 0, 0));
      seen.push(yield* sys.mbind(ptr + PAGE, PAGE, MPOL_DEFAULT, null, 0, 0), sys.errno);
    });
    expect(seen).toEqual([-1, EFAULT, 0, 0, -1, EFAULT]);
  });

  it('later faults allocate by the new policy; the VMA splits at the range and merges back while the parts have no anon_vma', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const ptr = yield* sys.mmap(0, 4 * PAGE, RW, PRIVATE);
      const vmas = () =>
        sys.mm.vmas.filter((v) => v.start >= ptr && v.end <= ptr + 4 * PAGE).length;
      const one = nodemaskWords([1]);
      expect(yield* sys.mbind(ptr + PAGE, 2 * PAGE, MPOL_BIND, one, BM_MAXNODE, 0)).toBe(0);
      seen.push(vmas());
      expect(yield* sys.mbind(ptr + PAGE, 2 * PAGE, MPOL_DEFAULT, null, 0, 0)).toBe(0);
      seen.push(vmas());
      expect(yield* sys.mbind(ptr + PAGE, 2 * PAGE, MPOL_BIND, one, BM_MAXNODE, 0)).toBe(0);
      for (let i = 0; i < 4; i++) yield* sys.write(ptr + i * PAGE, i);
      seen.push(yield* countPages(sys, ptr, 4, 2));
      seen.push(yield* addrOnNode(sys, ptr + PAGE), yield* addrOnNode(sys, ptr + 2 * PAGE));
      // Faulted under different policies, the parts got anon_vmas of their own
      // (anon_vma_compatible wants mpol_equal), so vma_merge cannot join them again.
      expect(yield* sys.mbind(ptr + PAGE, 2 * PAGE, MPOL_DEFAULT, null, 0, 0)).toBe(0);
      seen.push(vmas());
      for (let i = 0; i < 4; i++) seen.push(yield* sys.read(ptr + i * PAGE));
    });
    expect(seen).toEqual([3, 1, [2, 2], 1, 1, 3, 0, 1, 2, 3]);
  });

  it('argument errors: bad flags, a misaligned start, an unknown mode, STATIC with RELATIVE, no nodes for BIND', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      const one = nodemaskWords([1]);
      const calls: [number, number, readonly bigint[] | null, number][] = [
        [ptr, MPOL_BIND, one, 1 << 5],
        [ptr + 1, MPOL_BIND, one, 0],
        [ptr, MPOL_MAX, one, 0],
        [ptr, MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, one, 0],
        [ptr, MPOL_BIND, null, 0],
        [ptr, MPOL_DEFAULT, one, 0],
      ];
      for (const [addr, mode, mask, flags] of calls) {
        sys.errno = 0;
        seen.push(yield* sys.mbind(addr, PAGE, mode, mask, BM_MAXNODE, flags), sys.errno);
      }
      // an empty range is fine
      seen.push(yield* sys.mbind(ptr, 0, MPOL_BIND, one, BM_MAXNODE, 0));
    });
    expect(seen).toEqual([
      -1,
      EINVAL,
      -1,
      EINVAL,
      -1,
      EINVAL,
      -1,
      EINVAL,
      -1,
      EINVAL,
      -1,
      EINVAL,
      0,
    ]);
  });

  it('nodes outside the cpuset: EINVAL when none is left, else the policy keeps the allowed ones', () => {
    const { kernel, user } = numaMachine(3);
    const cs = user.createCpuset('two', { mems: [1, 2] });
    const p = user.createProcess({ name: 'p', cpuset: cs });
    const seen: unknown[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      seen.push(
        yield* sys.mbind(ptr, PAGE, MPOL_BIND, nodemaskWords([0]), BM_MAXNODE, 0),
        sys.errno,
      );
      seen.push(yield* sys.mbind(ptr, PAGE, MPOL_BIND, nodemaskWords([0, 2]), BM_MAXNODE, 0));
      const mode = { value: -1 };
      const mask: bigint[] = [];
      seen.push(
        yield* sys.getMempolicy(mode, mask, MAXNODE, ptr, MPOL_F_ADDR),
        mode.value,
        nodesOfWords(mask),
      );
      yield* sys.write(ptr, 1);
      seen.push(yield* addrOnNode(sys, ptr));
    });
    expect(kernel.run().deadlock).toBeNull();
    expect(seen).toEqual([-1, EINVAL, 0, 0, MPOL_BIND, [2], 2]);
  });
});

describe('set_mempolicy(2) and get_mempolicy(2)', () => {
  it('the thread policy decides where new pages go and get_mempolicy reports it', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      expect(yield* sys.setMempolicy(MPOL_BIND, nodemaskWords([1]), MAXNODE)).toBe(0);
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      yield* sys.write(ptr, 1);
      seen.push(yield* addrOnNode(sys, ptr));
      const mode = { value: -1 };
      const mask: bigint[] = [];
      seen.push(yield* sys.getMempolicy(mode, mask, MAXNODE, 0, 0), mode.value, nodesOfWords(mask));
      // the VMA has no policy of its own: MPOL_F_ADDR shows the default, not the thread's
      seen.push(
        yield* sys.getMempolicy(mode, mask, MAXNODE, ptr, MPOL_F_ADDR),
        mode.value,
        nodesOfWords(mask),
      );
      expect(yield* sys.setMempolicy(MPOL_DEFAULT, null, 0)).toBe(0);
      seen.push(yield* sys.getMempolicy(mode, null, 0, 0, 0), mode.value);
    });
    expect(seen).toEqual([1, 0, MPOL_BIND, [1], 0, MPOL_DEFAULT, [], 0, MPOL_DEFAULT]);
  });

  it('MPOL_PREFERRED falls back to another node when its node is full; empty PREFERRED is MPOL_LOCAL', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const mem = sys.userland.kernel.mem;
      expect(yield* sys.setMempolicy(MPOL_PREFERRED, nodemaskWords([1]), MAXNODE)).toBe(0);
      while (folioAlloc(mem, 0, 1, { thisNode: true }) >= 0);
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      yield* sys.write(ptr, 1);
      seen.push(yield* addrOnNode(sys, ptr));
      expect(yield* sys.setMempolicy(MPOL_PREFERRED, null, 0)).toBe(0);
      const mode = { value: -1 };
      seen.push(yield* sys.getMempolicy(mode, null, 0, 0, 0), mode.value);
    });
    expect(seen).toEqual([0, 0, MPOL_LOCAL]);
  });

  it('interleave: pages alternate by offset; MPOL_F_NODE gives the next interleave node', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      expect(yield* sys.setMempolicy(MPOL_INTERLEAVE, nodemaskWords([0, 1]), MAXNODE)).toBe(0);
      const mode = { value: -1 };
      seen.push(yield* sys.getMempolicy(mode, null, 0, 0, MPOL_F_NODE), mode.value);
      const ptr = yield* sys.mmap(0, 4 * PAGE, RW, PRIVATE);
      for (let i = 0; i < 4; i++) yield* sys.write(ptr + i * PAGE, i);
      const nodes: number[] = [];
      for (let i = 0; i < 4; i++) nodes.push(yield* addrOnNode(sys, ptr + i * PAGE));
      seen.push(nodes);
    });
    expect(seen[0]).toBe(0);
    expect(seen[1]).toBe(0); // next_node_in(il_prev = MAX_NUMNODES - 1) is the first node
    const nodes = seen[2] as number[];
    expect(nodes).toEqual([nodes[0], 1 - nodes[0]!, nodes[0], 1 - nodes[0]!]);
  });

  it('MPOL_F_RELATIVE_NODES in a cpuset: node 0 means the first allowed node; get_mempolicy returns the user mask', () => {
    const { kernel, user } = numaMachine(3);
    const cs = user.createCpuset('upper', { mems: [1, 2] });
    const p = user.createProcess({ name: 'p', cpuset: cs });
    const seen: unknown[] = [];
    user.spawnThread(p, 0, function* (sys) {
      expect(
        yield* sys.setMempolicy(MPOL_BIND | MPOL_F_RELATIVE_NODES, nodemaskWords([0]), MAXNODE),
      ).toBe(0);
      const mode = { value: -1 };
      const mask: bigint[] = [];
      seen.push(yield* sys.getMempolicy(mode, mask, MAXNODE, 0, 0), mode.value, nodesOfWords(mask));
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      yield* sys.write(ptr, 1);
      seen.push(yield* addrOnNode(sys, ptr));
      seen.push(
        yield* sys.getMempolicy(mode, mask, MAXNODE, 0, MPOL_F_MEMS_ALLOWED),
        nodesOfWords(mask),
      );
    });
    expect(kernel.run().deadlock).toBeNull();
    expect(seen).toEqual([0, MPOL_BIND | MPOL_F_RELATIVE_NODES, [0], 1, 0, [1, 2]]);
  });

  it('get_mempolicy errors: unknown flags, MEMS_ALLOWED with NODE, an address without MPOL_F_ADDR, NODE without interleave, a short mask, an unmapped address', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const mode = { value: -1 };
      const calls: [bigint[] | null, number, number, number][] = [
        [null, 0, 0, 1 << 3],
        [null, 0, 0, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE],
        [null, 0, 0x1000, 0],
        [null, 0, 0, MPOL_F_NODE],
        [[], 1, 0, 0],
        [null, 0, 0x1000, MPOL_F_ADDR],
      ];
      for (const [mask, maxnode, addr, flags] of calls) {
        sys.errno = 0;
        seen.push(yield* sys.getMempolicy(mode, mask, maxnode, addr, flags), sys.errno);
      }
    });
    expect(seen).toEqual([-1, EINVAL, -1, EINVAL, -1, EINVAL, -1, EINVAL, -1, EINVAL, -1, EFAULT]);
  });

  it('set_mempolicy errors: an unknown mode, STATIC with RELATIVE, nodes for MPOL_DEFAULT, no nodes for MPOL_PREFERRED_MANY, nodes outside the machine', () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      const calls: [number, readonly bigint[] | null][] = [
        [MPOL_MAX, nodemaskWords([0])],
        [MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, nodemaskWords([0])],
        [MPOL_DEFAULT, nodemaskWords([0])],
        [MPOL_PREFERRED_MANY, null],
        [MPOL_BIND, nodemaskWords([5])],
      ];
      for (const [mode, mask] of calls) {
        sys.errno = 0;
        seen.push(yield* sys.setMempolicy(mode, mask, MAXNODE), sys.errno);
      }
    });
    expect(seen).toEqual([-1, EINVAL, -1, EINVAL, -1, EINVAL, -1, EINVAL, -1, EINVAL]);
  });

  it("a forked child and a new thread start with the thread's policy", () => {
    const seen: unknown[] = [];
    run(2, function* (sys) {
      expect(yield* sys.setMempolicy(MPOL_BIND, nodemaskWords([1]), MAXNODE)).toBe(0);
      const child = yield* sys.fork(function* (c) {
        const mode = { value: -1 };
        seen.push(yield* c.getMempolicy(mode, null, 0, 0, 0), mode.value);
      });
      yield* sys.waitpid(child);
    });
    expect(seen).toEqual([0, MPOL_BIND]);
  });
});

describe('the memory-policy entries of the system-call table', () => {
  it('mbind, get_mempolicy and migrate_pages run from their table entries with arguments by name', () => {
    const outcomes: unknown[] = [];
    run(2, function* (sys) {
      const call = function* (name: string, args: unknown) {
        const spec = SYSCALLS[name]!;
        const outcome = yield* spec.run(sys, spec.args.parse(args));
        outcomes.push(outcome.ret, outcome.out ?? null);
      };
      const ptr = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      // masks are words: [2] is node 1, [1] node 0, [3] nodes 0 and 1
      yield* call('mbind', { addr: ptr, len: PAGE, mode: MPOL_BIND, nodemask: [2], maxnode: 65 });
      yield* sys.write(ptr, 1);
      yield* call('get_mempolicy', { addr: ptr, flags: MPOL_F_NODE | MPOL_F_ADDR });
      yield* call('get_mempolicy', { addr: ptr, flags: MPOL_F_ADDR, maxnode: 64 });
      yield* call('migrate_pages', { pid: 0, maxnode: 64, oldNodes: [2], newNodes: [1] });
      yield* call('get_mempolicy', { addr: ptr, flags: MPOL_F_NODE | MPOL_F_ADDR });
      yield* call('set_mempolicy', { mode: MPOL_INTERLEAVE, nodemask: [3], maxnode: 64 });
    });
    expect(outcomes).toEqual([
      0,
      null,
      0,
      { mode: 1 },
      0,
      { mode: MPOL_BIND, nodes: [1] },
      0,
      null,
      0,
      { mode: 0 },
      0,
      null,
    ]);
    expect(() =>
      SYSCALLS.mbind!.args.parse({ addr: 0, len: 1, mode: 2, nodemask: [-1] }),
    ).toThrow();
  });
});
