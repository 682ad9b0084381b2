import { folioNid, pfnFolio } from '@mmsim/folio';
import { createKernel, type Kernel, type VariantName } from '@mmsim/kernel';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
  PMD_SIZE,
  PROT_READ,
  PROT_WRITE,
} from '@mmsim/rmap';
import {
  E2BIG,
  EACCES,
  EBUSY,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  EPERM,
  ESRCH,
  type KernelGen,
  MmsimError,
  VmEvent,
} from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  CAP_SYS_NICE,
  createUserland,
  MPOL_MF_MOVE,
  MPOL_MF_MOVE_ALL,
  MPOL_MF_STRICT,
  type Process,
  SYSCALLS,
  type Sys,
  type Userland,
  userPointer,
} from '../src/index.js';

/*
 * The LTP move_pages tests (ltp/testcases/kernel/syscalls/move_pages/move_pagesNN.c),
 * written as the C tests are: a process (and a forked child where the test forks) making
 * system calls through `sys`. Node A is 0 and node B is 1 (LTP's get_allowed_nodes on a
 * two-node machine); LTP's node oracle (get_mempolicy MPOL_F_NODE | MPOL_F_ADDR) is the node
 * of the page the address maps. Then the man page's documented behaviour (move_pages(2):
 * status values, errors) and the cases derived from mm/migrate.c (K-1 .. K-6).
 */

const A = 0;
const B = 1;
const NOBODY = 65534;
/** An impossible status value, as the man page suggests pre-filling `status` with. */
const UNSET = 0x7fff_ffff;

function machine(variant: VariantName = 'v6.12'): { kernel: Kernel; user: Userland } {
  const kernel = createKernel({ nodes: [{ pages: 1024 }, { pages: 1024 }], variant });
  return { kernel, user: createUserland(kernel) };
}

/** Runs `body` as the one thread of a new root process on CPU 0 (node A) to completion. */
function runTest(
  kernel: Kernel,
  user: Userland,
  body: (sys: Sys) => KernelGen,
  options: { uid?: number; caps?: number[]; process?: Process } = {},
): void {
  const p =
    options.process ?? user.createProcess({ name: 'ltp', uid: options.uid, caps: options.caps });
  user.spawnThread(p, 0, function* (sys) {
    yield* body(sys);
  });
  expect(kernel.run().status).toBe('completed');
}

/**
 * LTP's `alloc_pages_on_node` (libs/numa via move_pages_support.c): `numa_alloc_onnode`
 * (a private anonymous mapping bound to `node` with MPOL_BIND; the mapping's policy stands
 * for the mbind) and one write per page, so that each page is faulted in on `node`. With
 * `touch` false the pages are left untouched.
 */
function allocPagesOnNode(sys: Sys, n: number, node: number, touch = true): KernelGen<number[]> {
  return allocOnNode(sys, n, node, MAP_PRIVATE | MAP_ANONYMOUS, touch);
}

/** LTP's `alloc_shared_pages_on_node`: MAP_SHARED | MAP_ANONYMOUS (shmem), bound, touched. */
function allocSharedPagesOnNode(sys: Sys, n: number, node: number): KernelGen<number[]> {
  return allocOnNode(sys, n, node, MAP_SHARED | MAP_ANONYMOUS, true);
}

function* allocOnNode(
  sys: Sys,
  n: number,
  node: number,
  flags: number,
  touch: boolean,
): KernelGen<number[]> {
  const k = sys.userland.kernel;
  const base = k.vm.mmap(sys.mm, {
    length: n * PAGE_SIZE,
    prot: PROT_READ | PROT_WRITE,
    flags,
    policy: { mode: 'bind', node },
  });
  const pages = Array.from({ length: n }, (_, i) => base + i * PAGE_SIZE);
  if (touch) for (const p of pages) yield* sys.write(p, 0xaa);
  return pages;
}

/** The node of the page mapped at `addr` (LTP's get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)). */
function nodeOf(k: Kernel, mm: MmView, addr: number): number {
  return folioNid(k.mem, pfnFolio(k.mem, k.vm.followPage(mm, addr)));
}

/** move_pages04's four addresses: touched, untouched, zero page, unmapped. */
function* fourPages(sys: Sys): KernelGen<number[]> {
  const [touched] = yield* allocPagesOnNode(sys, 1, A);
  const [untouched] = yield* allocPagesOnNode(sys, 1, A, false);
  const [zero] = yield* allocPagesOnNode(sys, 1, A, false);
  expect(yield* sys.read(zero!)).toBe(0); // a read fault maps the shared zero page
  const [gone] = yield* allocPagesOnNode(sys, 1, A, false);
  expect(yield* sys.munmap(gone!, PAGE_SIZE)).toBe(0);
  return [touched!, untouched!, zero!, gone!];
}

describe('LTP move_pages', () => {
  it('move_pages01: query mode reports the node of each page (nodes = NULL)', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const [p0] = yield* allocPagesOnNode(sys, 1, A);
      const [p1] = yield* allocPagesOnNode(sys, 1, B);
      const pages = [p0!, p1!];
      const status = [UNSET, UNSET];
      const ret = yield* sys.movePages(0, 2, pages, null, status, 0);
      expect(ret).toBeGreaterThanOrEqual(0);
      expect(status).toEqual([A, B]);
      expect(pages.map((p) => nodeOf(kernel, sys.mm, p))).toEqual([A, B]);
    });
  });

  it('move_pages02: private pages move from A to B with MPOL_MF_MOVE, the VMA bind notwithstanding', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const status = [UNSET, UNSET];
      const ret = yield* sys.movePages(0, 2, pages, [B, B], status, MPOL_MF_MOVE);
      expect(ret).toBeGreaterThanOrEqual(0);
      expect(status).toEqual([B, B]);
      expect(pages.map((p) => nodeOf(kernel, sys.mm, p))).toEqual([B, B]);
      // The mapping is intact: the pages are still written and read through it.
      for (const p of pages) yield* sys.write(p, 0xab);
      for (const p of pages) expect(yield* sys.read(p)).toBe(0xab);
    });
  });

  it('move_pages03: pages shared with a forked child move with MPOL_MF_MOVE_ALL as root', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocSharedPagesOnNode(sys, 2, A);
      const child = yield* sys.fork(function* (c) {
        for (const p of pages) yield* c.write(p, 0xaa);
        c.checkpointWake(0); // SEM_CHILD_SETUP
        yield* c.checkpointWait(1); // SEM_PARENT_TEST
      });
      yield* sys.checkpointWait(0);
      const status = [UNSET, UNSET];
      const ret = yield* sys.movePages(0, 2, pages, [B, B], status, MPOL_MF_MOVE_ALL);
      expect(ret).toBeGreaterThanOrEqual(0);
      expect(status).toEqual([B, B]);
      expect(pages.map((p) => nodeOf(kernel, sys.mm, p))).toEqual([B, B]);
      const childMm = user.findTaskByVpid(child)!.mm!;
      expect(pages.map((p) => nodeOf(kernel, childMm, p))).toEqual([B, B]); // rmap followed
      sys.checkpointWake(1);
      expect(yield* sys.waitpid(child)).toBe(0);
    });
  });

  it('move_pages04: an untouched page is -ENOENT, the zero page and an unmapped address -EFAULT (6.12, 7dff875c9436)', () => {
    const { kernel, user } = machine('v6.12');
    runTest(kernel, user, function* (sys) {
      const pages = yield* fourPages(sys);
      const status = [UNSET, UNSET, UNSET, UNSET];
      const ret = yield* sys.movePages(0, 4, pages, [B, B, B, B], status, MPOL_MF_MOVE);
      expect(ret).not.toBe(-1);
      expect(status.slice(1)).toEqual([-ENOENT, -EFAULT, -EFAULT]);
      expect(status[0]).toBe(B); // not checked by LTP; a correct kernel moves it
    });
  });

  it('move_pages04 before 6.12: follow_page(FOLL_DUMP) makes the untouched page -EFAULT (v6.3, v6.11)', () => {
    for (const variant of ['v6.3', 'v6.11'] as const) {
      const { kernel, user } = machine(variant);
      runTest(kernel, user, function* (sys) {
        const pages = yield* fourPages(sys);
        const status = [UNSET, UNSET, UNSET, UNSET];
        const ret = yield* sys.movePages(0, 4, pages, [B, B, B, B], status, MPOL_MF_MOVE);
        expect(ret).not.toBe(-1);
        expect(status, variant).toEqual([B, -EFAULT, -EFAULT, -EFAULT]);
      });
    }
  });

  it('move_pages05: a page mapped by two processes without MPOL_MF_MOVE_ALL is -EACCES', () => {
    for (const variant of ['v6.3', 'v6.12'] as const) {
      const { kernel, user } = machine(variant);
      runTest(kernel, user, function* (sys) {
        const [shared] = yield* allocSharedPagesOnNode(sys, 1, A);
        const [priv] = yield* allocPagesOnNode(sys, 1, A);
        const pages = [shared!, priv!];
        const child = yield* sys.fork(function* (c) {
          for (const p of pages) yield* c.write(p, 0xbb); // COW breaks the private page
          c.checkpointWake(0);
          yield* c.checkpointWait(1);
        });
        yield* sys.checkpointWait(0);
        const status = [UNSET, UNSET];
        const ret = yield* sys.movePages(0, 2, pages, [B, B], status, MPOL_MF_MOVE);
        expect(ret).not.toBe(-1);
        expect(status[0], variant).toBe(-EACCES);
        expect(status[1], variant).toBe(B); // exclusive again after the COW break
        expect(nodeOf(kernel, sys.mm, shared!)).toBe(A);
        sys.checkpointWake(1);
        yield* sys.waitpid(child);
      });
    }
  });

  it('move_pages06: a node that does not exist fails the call with ENODEV', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const maxNode = kernel.nrNodes - 1;
      const ret = yield* sys.movePages(
        0,
        2,
        pages,
        [maxNode + 1, maxNode + 1],
        [0, 0],
        MPOL_MF_MOVE,
      );
      expect([ret, sys.errno]).toEqual([-1, ENODEV]);
    });
  });

  it('move_pages07: a pid that is not in use fails with ESRCH', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const unused = 4242;
      expect(user.findTaskByVpid(unused)).toBeNull();
      const ret = yield* sys.movePages(unused, 2, pages, [B, B], [0, 0], MPOL_MF_MOVE);
      expect([ret, sys.errno]).toEqual([-1, ESRCH]);
    });
  });

  it('move_pages08 (removed from LTP, negative check): count = ULONG_MAX is not refused with E2BIG', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const status = [UNSET, UNSET];
      const ret = yield* sys.movePages(0, 2 ** 64 - 1, pages, [B, B], status, MPOL_MF_MOVE);
      expect(sys.errno).not.toBe(E2BIG);
      // No count limit since 2.6.29: the two entries are done, then reading pages[2] (past
      // the array: the model has nothing there) faults, after the batch was flushed.
      expect([ret, sys.errno]).toEqual([-1, EFAULT]);
      expect(pages.map((p) => nodeOf(kernel, sys.mm, p))).toEqual([B, B]);
    });
  });

  it('move_pages09: pages already on the target node succeed, with that node as status (e0153fc2c760)', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const status = [UNSET, UNSET];
      const ret = yield* sys.movePages(0, 2, pages, [A, A], status, MPOL_MF_MOVE);
      expect(ret).toBeGreaterThanOrEqual(0);
      expect(ret).toBe(0);
      expect(status).toEqual([A, A]);
    });
  });

  it('move_pages10: flags other than MOVE / MOVE_ALL (MPOL_MF_STRICT) fail with EINVAL', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const ret = yield* sys.movePages(0, 2, pages, [B, B], [0, 0], MPOL_MF_STRICT);
      expect([ret, sys.errno]).toEqual([-1, EINVAL]);
      expect(pages.map((p) => nodeOf(kernel, sys.mm, p))).toEqual([A, A]);
    });
  });

  it('move_pages11: MPOL_MF_MOVE_ALL after seteuid(nobody) (no CAP_SYS_NICE) fails with EPERM', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      expect(sys.seteuid(NOBODY)).toBe(0);
      const pages = yield* allocSharedPagesOnNode(sys, 2, A);
      const child = yield* sys.fork(function* (c) {
        for (const p of pages) yield* c.write(p, 0xaa);
        c.checkpointWake(0);
        yield* c.checkpointWait(1);
      });
      yield* sys.checkpointWait(0);
      const ret = yield* sys.movePages(0, 2, pages, [B, B], [0, 0], MPOL_MF_MOVE_ALL);
      expect([ret, sys.errno]).toEqual([-1, EPERM]);
      sys.checkpointWake(1);
      yield* sys.waitpid(child);
    });
  });
});

describe('move_pages(2) documented behaviour (man page, mm/migrate.c 6.12)', () => {
  it('K-1: query mode gives [node, -ENOENT, -EFAULT] for a touched page, an untouched page, an unmapped address; the zero page -EFAULT', () => {
    const { kernel, user } = machine('v6.12');
    runTest(kernel, user, function* (sys) {
      const [touched, untouched, zero, gone] = yield* fourPages(sys);
      const status = [UNSET, UNSET, UNSET, UNSET];
      const ret = yield* sys.movePages(0, 4, [touched!, untouched!, gone!, zero!], null, status, 0);
      expect(ret).toBe(0);
      expect(status).toEqual([A, -ENOENT, -EFAULT, -EFAULT]);
    });
  });

  it('K-1 before 6.12: query mode gives -EFAULT for the untouched page too (do_pages_stat_array with FOLL_DUMP)', () => {
    const { kernel, user } = machine('v6.3');
    runTest(kernel, user, function* (sys) {
      const [touched, untouched, zero, gone] = yield* fourPages(sys);
      const status = [UNSET, UNSET, UNSET, UNSET];
      const ret = yield* sys.movePages(0, 4, [touched!, untouched!, gone!, zero!], null, status, 0);
      expect(ret).toBe(0);
      expect(status).toEqual([A, -EFAULT, -EFAULT, -EFAULT]);
    });
  });

  it('query mode works in chunks of 16: 40 pages on alternating nodes all get their node', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages: number[] = [];
      for (let i = 0; i < 40; i++) pages.push(...(yield* allocPagesOnNode(sys, 1, i % 2)));
      const status = pages.map(() => UNSET);
      expect(yield* sys.movePages(0, 40, pages, null, status, 0)).toBe(0);
      expect(status).toEqual(pages.map((_, i) => i % 2));
    });
  });

  it('K-2: a second entry in a THP already queued is -EBUSY; the THP still migrates and the call returns 0', () => {
    for (const variant of ['v6.3', 'v6.12'] as const) {
      const { kernel, user } = machine(variant);
      runTest(kernel, user, function* (sys) {
        const k = sys.userland.kernel;
        const thp = k.vm.mmap(sys.mm, { length: PMD_SIZE, hugepage: true });
        yield* sys.write(thp, 1);
        expect(k.vm.lookupPte(sys.mm, thp).level).toBe('pmd');
        const status = [UNSET, UNSET];
        const pages = [thp, thp + PAGE_SIZE];
        const ret = yield* sys.movePages(0, 2, pages, [B, B], status, MPOL_MF_MOVE);
        expect(ret, variant).toBe(0);
        expect(status, variant).toEqual([B, -EBUSY]);
        expect(nodeOf(kernel, sys.mm, thp + PAGE_SIZE)).toBe(B);
        expect(yield* sys.read(thp)).toBe(1);
      });
    }
  });

  it('K-3: a node outside the target cpuset mems fails the call with EACCES', () => {
    const { kernel, user } = machine();
    const cs = user.createCpuset('only-a', { mems: [A] });
    const p = user.createProcess({ name: 'confined', cpuset: cs });
    runTest(
      kernel,
      user,
      function* (sys) {
        const pages = yield* allocPagesOnNode(sys, 2, A);
        const ret = yield* sys.movePages(0, 2, pages, [B, B], [0, 0], MPOL_MF_MOVE);
        expect([ret, sys.errno]).toEqual([-1, EACCES]);
        expect(pages.map((q) => nodeOf(kernel, sys.mm, q))).toEqual([A, A]);
      },
      { process: p },
    );
  });

  it('K-4: unreadable pages[] or nodes[], or an unwritable status[] in query mode, is EFAULT', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const ro = yield* sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
      const NULL = userPointer(0);
      expect(yield* sys.movePages(0, 2, NULL, [B, B], [0, 0], MPOL_MF_MOVE)).toBe(-1);
      expect(sys.errno).toBe(EFAULT);
      sys.errno = 0;
      expect(yield* sys.movePages(0, 2, pages, NULL, [0, 0], MPOL_MF_MOVE)).toBe(-1);
      expect(sys.errno).toBe(EFAULT);
      sys.errno = 0;
      expect(yield* sys.movePages(0, 2, NULL, null, [0, 0], 0)).toBe(-1);
      expect(sys.errno).toBe(EFAULT);
      sys.errno = 0;
      expect(yield* sys.movePages(0, 2, pages, null, userPointer(ro), 0)).toBe(-1);
      expect(sys.errno).toBe(EFAULT);
      // None of them moved anything.
      expect(pages.map((q) => nodeOf(kernel, sys.mm, q))).toEqual([A, A]);
    });
  });

  it('K-5: a bad node ends the call with ENODEV after the batch gathered before it has migrated', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 3, A);
      const ret = yield* sys.movePages(0, 3, pages, [B, B, 7], [0, 0, 0], MPOL_MF_MOVE);
      expect([ret, sys.errno]).toEqual([-1, ENODEV]);
      expect(pages.map((q) => nodeOf(kernel, sys.mm, q))).toEqual([B, B, A]);
    });
  });

  it('K-6: a batch with k failures returns k + the entries not yet processed, writing no status for them', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const k = sys.userland.kernel;
      // Flushed by the node change at entry 2: 1 failure + (4 - 2) entries left = 3.
      const pages = yield* allocPagesOnNode(sys, 4, A);
      yield* k.vm.pinUserPage(sys.mm, pages[0]!, true); // a DMA pin: migration fails
      const status = [UNSET, UNSET, UNSET, UNSET];
      const ret = yield* sys.movePages(0, 4, pages, [B, B, A, A], status, MPOL_MF_MOVE);
      expect(ret).toBe(3);
      expect(status).toEqual([UNSET, UNSET, UNSET, UNSET]);
      expect(nodeOf(kernel, sys.mm, pages[1]!)).toBe(B); // the batch's other page moved
      // Flushed after entry 2 (already on B, its status written): 1 + (3 - 2) - 1 = 1.
      const more = yield* allocPagesOnNode(sys, 3, A);
      yield* k.vm.pinUserPage(sys.mm, more[0]!, true);
      const [onB] = yield* allocPagesOnNode(sys, 1, B);
      const status2 = [UNSET, UNSET, UNSET];
      const ret2 = yield* sys.movePages(
        0,
        3,
        [more[0]!, more[1]!, onB!],
        [B, B, B],
        status2,
        MPOL_MF_MOVE,
      );
      expect(ret2).toBe(1);
      expect(status2).toEqual([UNSET, UNSET, B]);
    });
  });

  it('batching: a node change flushes the batch, so entries alternating between nodes each migrate', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 4, A);
      const before = kernel.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS);
      const status = [UNSET, UNSET, UNSET, UNSET];
      const ret = yield* sys.movePages(0, 4, pages, [B, A, B, B], status, MPOL_MF_MOVE);
      expect(ret).toBe(0);
      expect(status).toEqual([B, A, B, B]);
      expect(pages.map((q) => nodeOf(kernel, sys.mm, q))).toEqual([B, A, B, B]);
      expect(kernel.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS) - before).toBe(3);
    });
  });

  it('EPERM for another user process without ptrace access (PTRACE_MODE_READ_REALCREDS); the same uid may', () => {
    const { kernel, user } = machine();
    const other = user.createProcess({ name: 'other', uid: 1001 });
    const peer = user.createProcess({ name: 'peer', uid: 1000 });
    runTest(
      kernel,
      user,
      function* (sys) {
        const status = [UNSET];
        expect(yield* sys.movePages(other.pid, 1, [0], null, status, 0)).toBe(-1);
        expect(sys.errno).toBe(EPERM);
        sys.errno = 0;
        expect(yield* sys.movePages(peer.pid, 1, [0], null, status, 0)).toBe(0);
        expect(status).toEqual([-EFAULT]); // nothing mapped at 0 in the peer
      },
      { uid: 1000 },
    );
  });

  it('EINVAL for a kernel thread (no mm), after the permission check', () => {
    const { kernel, user } = machine();
    const kthread = user.kernelThread('kworker');
    runTest(kernel, user, function* (sys) {
      expect(yield* sys.movePages(kthread.pid, 1, [0], null, [0], 0)).toBe(-1);
      expect(sys.errno).toBe(EINVAL);
    });
  });

  it('the check order: EINVAL flags before EPERM MOVE_ALL before ESRCH', () => {
    const { kernel, user } = machine();
    runTest(
      kernel,
      user,
      function* (sys) {
        const bad = 9999;
        expect(yield* sys.movePages(bad, 1, [0], [B], [0], MPOL_MF_STRICT | MPOL_MF_MOVE_ALL)).toBe(
          -1,
        );
        expect(sys.errno).toBe(EINVAL);
        expect(yield* sys.movePages(bad, 1, [0], [B], [0], MPOL_MF_MOVE_ALL)).toBe(-1);
        expect(sys.errno).toBe(EPERM);
        expect(yield* sys.movePages(bad, 1, [0], [B], [0], MPOL_MF_MOVE)).toBe(-1);
        expect(sys.errno).toBe(ESRCH);
      },
      { uid: 1000 },
    );
  });

  it('MPOL_MF_MOVE_ALL with CAP_SYS_NICE moves a shared page of a non-root process', () => {
    const { kernel, user } = machine();
    runTest(
      kernel,
      user,
      function* (sys) {
        const [shared] = yield* allocSharedPagesOnNode(sys, 1, A);
        const child = yield* sys.fork(function* (c) {
          yield* c.write(shared!, 1);
          c.checkpointWake(0);
          yield* c.checkpointWait(1);
        });
        yield* sys.checkpointWait(0);
        const status = [UNSET];
        expect(yield* sys.movePages(0, 1, [shared!], [B], status, MPOL_MF_MOVE_ALL)).toBe(0);
        expect(status).toEqual([B]);
        sys.checkpointWake(1);
        yield* sys.waitpid(child);
      },
      { uid: 1000, caps: [CAP_SYS_NICE] },
    );
  });

  it('misuse of the TypeScript API throws INVALID_ARGUMENT (not an errno)', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const calls: Array<() => KernelGen<number>> = [
        () => sys.movePages(0.5, 1, [0], null, [0], 0),
        () => sys.movePages(0, -1, [0], null, [0], 0),
        () => sys.movePages(0, 1, 'x' as unknown as number[], null, [0], 0),
        () => sys.movePages(0, 1, [Number.NaN], null, [0], 0),
      ];
      for (const call of calls) {
        let error: unknown = null;
        try {
          yield* call();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(MmsimError);
        expect((error as MmsimError).code).toBe('INVALID_ARGUMENT');
      }
    });
  });

  it('the move_pages entry of the system-call table returns the status array', () => {
    const { kernel, user } = machine();
    runTest(kernel, user, function* (sys) {
      const pages = yield* allocPagesOnNode(sys, 2, A);
      const spec = SYSCALLS.move_pages!;
      const args = spec.args.parse({ pages, nodes: [B, B], flags: MPOL_MF_MOVE });
      const outcome = yield* spec.run(sys, args);
      expect(outcome).toEqual({ ret: 0, out: { status: [B, B] } });
      const query = yield* spec.run(sys, spec.args.parse({ pages }));
      expect(query).toEqual({ ret: 0, out: { status: [B, B] } });
    });
  });
});
