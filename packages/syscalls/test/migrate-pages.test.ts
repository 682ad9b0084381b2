import { folioAlloc } from '@mmsim/folio';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '@mmsim/rmap';
import { EFAULT, EINVAL, ENOMEM, EPERM, ESRCH, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { CAP_SYS_NICE, nodemaskWords, PR_SET_DUMPABLE, type Sys } from '../src/index.js';
import { addrOnNode, MAXNODE, migrateToNode, numaMachine } from './numa-helpers.js';

/*
 * LTP migrate_pages01 and migrate_pages02 (ltp/testcases/kernel/syscalls/migrate_pages/),
 * as programs of processes making the system calls, and the documented behaviour of
 * migrate_pages(2).
 */

const RW = PROT_READ | PROT_WRITE;
const PRIVATE = MAP_PRIVATE | MAP_ANONYMOUS;
const SHARED = MAP_SHARED | MAP_ANONYMOUS;
const NOBODY = 65534;
const PAGE = 4096;

/** Runs `body` as the one thread of a root process; returns the kernel's run result. */
function runRoot(nodes: number, body: (sys: Sys) => Generator<unknown, unknown, unknown>) {
  const { kernel, user } = numaMachine(nodes);
  const p = user.createProcess({ name: 'ltp' });
  user.spawnThread(p, 0, body as never);
  const result = kernel.run();
  expect(result.deadlock).toBeNull();
  return { kernel, user, process: p };
}

describe('LTP migrate_pages01', () => {
  // sane_old_nodes = sane_new_nodes = {first allowed node}
  const sane = () => nodemaskWords([0]);

  it('migrate_pages01 (a): the same old and new node set returns 0', () => {
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      seen.push(yield* sys.migratePages(0, MAXNODE, sane(), sane()));
    });
    expect(seen).toEqual([0]);
  });

  it('migrate_pages01 (b): pid -1 and an unused pid give ESRCH', () => {
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      seen.push(yield* sys.migratePages(-1, MAXNODE, sane(), sane()), sys.errno);
      sys.errno = 0;
      seen.push(yield* sys.migratePages(4242, MAXNODE, sane(), sane()), sys.errno);
    });
    expect(seen).toEqual([-1, ESRCH, -1, ESRCH]);
  });

  it('migrate_pages01 (c): maxnode = -1 (ULONG_MAX) gives EINVAL', () => {
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      seen.push(yield* sys.migratePages(0, -1, sane(), sane()), sys.errno);
    });
    expect(seen).toEqual([-1, EINVAL]);
  });

  it('migrate_pages01 (d): masks at address -1, on a PROT_NONE page and on an unmapped page give EFAULT', () => {
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      seen.push(yield* sys.migratePages(0, MAXNODE, -1, -1), sys.errno);
      sys.errno = 0;
      const p = yield* sys.mmap(0, PAGE, PROT_NONE, PRIVATE);
      seen.push(yield* sys.migratePages(0, MAXNODE, p, p), sys.errno);
      sys.errno = 0;
      yield* sys.munmap(p, PAGE);
      seen.push(yield* sys.migratePages(0, MAXNODE, p, p), sys.errno);
    });
    expect(seen).toEqual([-1, EFAULT, -1, EFAULT, -1, EFAULT]);
  });

  it('migrate_pages01 (e): a new mask of only a node that is not allowed gives EINVAL', () => {
    // get_allowed_nodes gives {0, 1}; the first node id not in it is 2 (< sane_max_node)
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      seen.push(yield* sys.migratePages(0, MAXNODE, sane(), nodemaskWords([2])), sys.errno);
    });
    expect(seen).toEqual([-1, EINVAL]);
  });

  it('migrate_pages01 (f): a child that setuid(nobody) targeting its root parent gets EPERM', () => {
    const seen: number[] = [];
    const { process } = runRoot(2, function* (sys) {
      const parentPid = sys.getpid();
      const child = yield* sys.fork(function* (c) {
        expect(c.setuid(NOBODY)).toBe(0);
        seen.push(yield* c.migratePages(parentPid, MAXNODE, sane(), sane()), c.errno);
        return 0;
      });
      seen.push(yield* sys.waitpid(child));
    });
    expect(process.exitCode).toBe(0);
    expect(seen).toEqual([-1, EPERM, 0]);
  });
});

describe('LTP migrate_pages02', () => {
  const nodeA = 0;
  const nodeB = 1;
  const allowed = [0, 1];

  /**
   * `test_migrate_current_process(node1, node2, cap_sys_nice)` of migrate_pages02.c; records
   * the node of each page where LTP checks it.
   */
  function* currentProcess(sys: Sys, capSysNice: boolean, seen: (string | number)[]) {
    const priv = yield* sys.mmap(0, PAGE, RW, PRIVATE);
    yield* sys.write(priv, 0);
    yield* migrateToNode(sys, 0, nodeB, allowed);
    seen.push('a: private on', yield* addrOnNode(sys, priv));
    yield* migrateToNode(sys, 0, nodeA, allowed);
    seen.push('a: private back on', yield* addrOnNode(sys, priv));
    yield* sys.munmap(priv, PAGE);

    const shared = yield* sys.mmap(0, PAGE, RW, SHARED);
    yield* sys.write(shared, 1);
    yield* migrateToNode(sys, 0, nodeB, allowed);
    seen.push('b: shared on', yield* addrOnNode(sys, shared));

    const child = yield* sys.fork(function* (c) {
      const cpriv = yield* c.mmap(0, PAGE, RW, PRIVATE);
      yield* c.write(cpriv, 1);
      yield* c.write(shared, 1);
      if (!capSysNice) expect(c.seteuid(NOBODY)).toBe(0);
      yield* migrateToNode(c, 0, nodeA, allowed);
      seen.push('child private on', yield* addrOnNode(c, cpriv));
      return 0;
    });
    yield* sys.waitpid(child);
    seen.push('parent: shared on', yield* addrOnNode(sys, shared));
    yield* sys.munmap(shared, PAGE);
  }

  it('migrate_pages02 (a): the caller moves its own private page to B and back to A', () => {
    const seen: (string | number)[] = [];
    runRoot(2, function* (sys) {
      yield* currentProcess(sys, true, seen);
    });
    expect(seen.slice(0, 4)).toEqual(['a: private on', nodeB, 'a: private back on', nodeA]);
  });

  it('migrate_pages02 (b): a MAP_SHARED anonymous page mapped by the caller alone moves', () => {
    const seen: (string | number)[] = [];
    runRoot(2, function* (sys) {
      yield* currentProcess(sys, true, seen);
    });
    expect(seen.slice(4, 6)).toEqual(['b: shared on', nodeB]);
  });

  it('migrate_pages02 (c): a child with CAP_SYS_NICE moves its page and the page it shares with its parent', () => {
    const seen: (string | number)[] = [];
    runRoot(2, function* (sys) {
      yield* currentProcess(sys, true, seen);
    });
    expect(seen.slice(6)).toEqual(['child private on', nodeA, 'parent: shared on', nodeA]);
  });

  it('migrate_pages02 (d): a child without CAP_SYS_NICE moves its page but leaves the shared page on B', () => {
    const seen: (string | number)[] = [];
    runRoot(2, function* (sys) {
      yield* currentProcess(sys, false, seen);
    });
    expect(seen.slice(6)).toEqual(['child private on', nodeA, 'parent: shared on', nodeB]);
  });

  /** `test_migrate_other_process(node1, node2, cap_sys_nice)` of migrate_pages02.c. */
  function otherProcess(capSysNice: boolean): (string | number)[] {
    const seen: (string | number)[] = [];
    runRoot(2, function* (sys) {
      const child1 = yield* sys.fork(function* (c1) {
        const priv = yield* c1.mmap(0, PAGE, RW, PRIVATE);
        yield* c1.write(priv, 0);
        yield* migrateToNode(c1, 0, nodeA, allowed);
        seen.push('child1 on', yield* addrOnNode(c1, priv));
        expect(c1.setuid(NOBODY)).toBe(0);
        expect(c1.prctl(PR_SET_DUMPABLE, 1)).toBe(0);
        c1.checkpointWake(0);
        yield* c1.checkpointWait(1);
        seen.push('child1 after child2 on', yield* addrOnNode(c1, priv));
        return 0;
      });
      const child2 = yield* sys.fork(function* (c2) {
        if (!capSysNice) expect(c2.setuid(NOBODY)).toBe(0);
        yield* c2.checkpointWait(0);
        seen.push('child2 migrate_pages', yield* migrateToNode(c2, child1, nodeB, allowed));
        c2.checkpointWake(1);
        return 0;
      });
      yield* sys.waitpid(child1);
      yield* sys.waitpid(child2);
    });
    return seen;
  }

  it('migrate_pages02 (e): a root process migrates another process (uid nobody, dumpable) to B', () => {
    expect(otherProcess(true)).toEqual([
      'child1 on',
      nodeA,
      'child2 migrate_pages',
      0,
      'child1 after child2 on',
      nodeB,
    ]);
  });

  it('migrate_pages02 (f): a process with the same uid migrates another process to B', () => {
    expect(otherProcess(false)).toEqual([
      'child1 on',
      nodeA,
      'child2 migrate_pages',
      0,
      'child1 after child2 on',
      nodeB,
    ]);
  });
});

describe('migrate_pages(2): documented behaviour (man page, mm/mempolicy.c 6.3)', () => {
  it('K.3: only pages on old nodes move, pid 0 is the caller, and the data stays', () => {
    const seen: number[] = [];
    runRoot(3, function* (sys) {
      const a = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      yield* sys.write(a, 11); // on node 0 (CPU 0)
      const b = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      const nodeB = nodemaskWords([2]);
      expect(yield* sys.mbind(b, PAGE, 2 /* MPOL_BIND */, nodeB, MAXNODE + 1, 0)).toBe(0);
      yield* sys.write(b, 22); // on node 2
      seen.push(yield* sys.migratePages(0, MAXNODE, nodemaskWords([0]), nodemaskWords([1])));
      seen.push(yield* addrOnNode(sys, a), yield* addrOnNode(sys, b));
      seen.push(yield* sys.read(a), yield* sys.read(b));
    });
    expect(seen).toEqual([0, 1, 2, 11, 22]);
  });

  it('K.3: returns the number of pages not moved (a pinned page), the others move', () => {
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      const vm = sys.userland.kernel.vm;
      const a = yield* sys.mmap(0, 2 * PAGE, RW, PRIVATE);
      yield* sys.write(a, 1);
      yield* sys.write(a + PAGE, 2);
      const pfn = yield* vm.pinUserPage(sys.mm, a, true); // a DMA pin: its refcount is not the expected one
      seen.push(yield* sys.migratePages(0, MAXNODE, nodemaskWords([0]), nodemaskWords([1])));
      seen.push(yield* addrOnNode(sys, a), yield* addrOnNode(sys, a + PAGE));
      yield* vm.unpinUserPage(sys.mm, pfn);
    });
    expect(seen).toEqual([1, 0, 1]);
  });

  it('K.3: a target node without free memory fails the call with ENOMEM (migrate_pages returns -ENOMEM)', () => {
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      const mem = sys.userland.kernel.mem;
      const a = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      yield* sys.write(a, 1);
      while (folioAlloc(mem, 0, 1, { thisNode: true }) >= 0); // node 1 has no free page left
      seen.push(
        yield* sys.migratePages(0, MAXNODE, nodemaskWords([0]), nodemaskWords([1])),
        sys.errno,
      );
      seen.push(yield* addrOnNode(sys, a), yield* sys.read(a));
    });
    expect(seen).toEqual([-1, ENOMEM, 0, 1]);
  });

  it('K.3: bits above maxnode are ignored; a node id above MAX_NUMNODES set within maxnode is EINVAL', () => {
    const seen: number[] = [];
    runRoot(2, function* (sys) {
      // maxnode 2 reads one bit: node 1 in the new mask is ignored, so new is empty -> EINVAL
      seen.push(yield* sys.migratePages(0, 2, nodemaskWords([0]), nodemaskWords([1])), sys.errno);
      // a second word with a bit (node 64 and up) when maxnode covers it
      const big = [1n, 1n];
      seen.push(yield* sys.migratePages(0, 129, big, big), sys.errno);
      sys.errno = 0;
      // a zero second word is fine
      seen.push(yield* sys.migratePages(0, 129, [1n, 0n], [1n, 0n]), sys.errno);
      // more than a page of bits
      seen.push(yield* sys.migratePages(0, PAGE * 8 + 2, [1n], [1n]), sys.errno);
    });
    expect(seen).toEqual([-1, EINVAL, -1, EINVAL, 0, 0, -1, EINVAL]);
  });

  it('K-7: new nodes outside the target cpuset without CAP_SYS_NICE give EPERM; with it the call passes', () => {
    const { kernel, user } = numaMachine(2);
    const cs = user.createCpuset('only0', { mems: [0] });
    const target = user.createProcess({ name: 'target', uid: 1000, cpuset: cs });
    const caller = user.createProcess({ name: 'caller', uid: 1000 });
    const root = user.createProcess({ name: 'root' });
    const seen: number[] = [];
    user.spawnThread(target, 0, function* (sys) {
      yield* sys.checkpointWait(0);
    });
    user.spawnThread(caller, 0, function* (sys) {
      seen.push(
        yield* sys.migratePages(target.pid, MAXNODE, nodemaskWords([0]), nodemaskWords([1])),
        sys.errno,
      );
      expect(sys.capable(CAP_SYS_NICE)).toBe(false);
    });
    user.spawnThread(root, 0, function* (sys) {
      yield;
      seen.push(
        yield* sys.migratePages(target.pid, MAXNODE, nodemaskWords([0]), nodemaskWords([1])),
      );
      sys.checkpointWake(0);
    });
    expect(kernel.run().deadlock).toBeNull();
    expect(seen).toEqual([-1, EPERM, 0]);
  });

  it('K-8: migrate_pages on a kernel thread (no mm) gives EINVAL', () => {
    const { kernel, user } = numaMachine(2);
    const kthread = user.kernelThread('kworker/0:1');
    const root = user.createProcess({ name: 'root' });
    const seen: number[] = [];
    user.spawnThread(root, 0, function* (sys) {
      seen.push(
        yield* sys.migratePages(kthread.pid, MAXNODE, nodemaskWords([0]), nodemaskWords([1])),
        sys.errno,
      );
    });
    expect(kernel.run().deadlock).toBeNull();
    expect(seen).toEqual([-1, EINVAL]);
  });

  /** One page bound to each of `nodes` (MPOL_BIND, then touched); returns the addresses. */
  function* pagesOn(sys: Sys, nodes: readonly number[]) {
    const addrs: number[] = [];
    for (const n of nodes) {
      const a = yield* sys.mmap(0, PAGE, RW, PRIVATE);
      expect(yield* sys.mbind(a, PAGE, 2, nodemaskWords([n]), MAXNODE + 1, 0)).toBe(0);
      yield* sys.write(a, 100 + n);
      addrs.push(a);
    }
    return addrs;
  }

  it('K-9: old {2,3,4} -> new {3,4,5} moves every page one node up (4 first, so nothing moves twice)', () => {
    const seen: number[] = [];
    const { kernel } = runRoot(8, function* (sys) {
      const addrs = yield* pagesOn(sys, [2, 3, 4]);
      seen.push(
        yield* sys.migratePages(0, MAXNODE, nodemaskWords([2, 3, 4]), nodemaskWords([3, 4, 5])),
      );
      for (const a of addrs) seen.push(yield* addrOnNode(sys, a));
      for (const a of addrs) seen.push(yield* sys.read(a));
    });
    expect(seen).toEqual([0, 3, 4, 5, 102, 103, 104]);
    // each page migrated once: 3 successes
    expect(kernel.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(3);
  });

  it('K-9: old {2,3,4} -> new {1,2,3} moves 2 first (its destination is not a pending source), each page once', () => {
    const seen: number[] = [];
    const { kernel } = runRoot(8, function* (sys) {
      const addrs = yield* pagesOn(sys, [2, 3, 4]);
      seen.push(
        yield* sys.migratePages(0, MAXNODE, nodemaskWords([2, 3, 4]), nodemaskWords([1, 2, 3])),
      );
      for (const a of addrs) seen.push(yield* addrOnNode(sys, a));
    });
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(kernel.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(3);
  });

  it('K-9: old {0..7} -> new {3,4,5} moves only the pages on 0, 1, 2, 6 and 7', () => {
    const seen: number[] = [];
    runRoot(8, function* (sys) {
      const addrs = yield* pagesOn(sys, [0, 1, 2, 3, 4, 5, 6, 7]);
      seen.push(
        yield* sys.migratePages(
          0,
          MAXNODE,
          nodemaskWords([0, 1, 2, 3, 4, 5, 6, 7]),
          nodemaskWords([3, 4, 5]),
        ),
      );
      for (const a of addrs) seen.push(yield* addrOnNode(sys, a));
    });
    // node_remap: 0->3, 1->4, 2->5, 6->3, 7->4 (the n-th source node to the (n mod 3)-th target)
    expect(seen).toEqual([0, 3, 4, 5, 3, 4, 5, 3, 4]);
  });
});
