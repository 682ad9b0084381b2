import { createKernel } from '@mmsim/kernel';
import {
  MADV_MERGEABLE,
  MADV_SOFT_OFFLINE,
  MAP_ANONYMOUS,
  MAP_HUGETLB,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '@mmsim/rmap';
import { EBUSY, EINVAL, ENOMEM } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  createUserland,
  MPOL_BIND,
  MPOL_MF_MOVE_ALL,
  nodemaskWords,
  type Sys,
} from '../src/index.js';
import { addrOnNode, MAXNODE, numaMachine } from './numa-helpers.js';

/*
 * The two LTP cases that need KSM and mapped hugetlb
 * (ltp/testcases/kernel/syscalls/migrate_pages/migrate_pages03.c and
 * ltp/testcases/kernel/syscalls/move_pages/move_pages12.c), written as the C tests are, with
 * fewer iterations than LTP's runtime-bounded loops.
 */

const PAGE = 4096;
const HPAGE = 2 * 1024 * 1024;
const NOBODY = 65534;

/** Scans with ksmd (`ksm_do_scan`) until `scans` more full scans are done (LTP's wait_ksmd_full_scan). */
function* waitKsmdFullScans(sys: Sys, scans: number) {
  const kernel = sys.userland.kernel;
  const until = kernel.vm.ksmStats.fullScans + scans;
  while (kernel.vm.ksmStats.fullScans < until) yield* kernel.ksmDoScan(100);
}

/**
 * migrate_pages03's set-up: 20 one-page private RWX mappings, each MADV_MERGEABLE, bound to
 * node 0 and zero-filled; then ksmd merges them into one KSM page. Returns the addresses.
 */
function* mergedKsmPages(sys: Sys) {
  const addrs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const a = yield* sys.mmap(
      0,
      PAGE,
      PROT_READ | PROT_WRITE | PROT_EXEC,
      MAP_PRIVATE | MAP_ANONYMOUS,
    );
    expect(yield* sys.madvise(a, PAGE, MADV_MERGEABLE)).toBe(0);
    expect(yield* sys.mbind(a, PAGE, MPOL_BIND, nodemaskWords([0]), MAXNODE, 0)).toBe(0);
    yield* sys.write(a, 0);
    addrs.push(a);
  }
  // LTP waits for full scans until the counters settle.
  yield* waitKsmdFullScans(sys, 4);
  const stats = sys.userland.kernel.vm.ksmStats;
  // Every one of the 20 zero-filled pages merges: one KSM page, 19 more mappings of it, and
  // nothing left in the unstable tree (the pages of the last, partly filled per-CPU LRU batch
  // too: ksmd drains the batches at the start of each full scan).
  expect(stats.pagesShared).toBe(1);
  expect(stats.pagesSharing).toBe(19);
  expect(stats.pagesUnshared).toBe(0);
  return addrs;
}

describe('LTP migrate_pages03 (KSM pages migrated back and forth)', () => {
  it('migrate_pages03: as nobody, alternate migrate_pages {0}->{1} and {1}->{0}: no call returns a negative value', () => {
    const { kernel, user } = numaMachine(2, 512);
    const p = user.createProcess({ name: 'migrate_pages03' });
    const rets: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      yield* mergedKsmPages(sys);
      expect(sys.seteuid(NOBODY)).toBe(0);
      for (let i = 0; i < 10; i++) {
        const [from, to] = i % 2 === 0 ? [0, 1] : [1, 0];
        rets.push(yield* sys.migratePages(0, MAXNODE, nodemaskWords([from]), nodemaskWords([to])));
      }
      expect(sys.seteuid(0)).toBe(0);
    });
    const result = kernel.run();
    expect(result.status).toBe('completed');
    expect(rets.every((r) => r >= 0)).toBe(true);
    expect(kernel.vm.check()).toEqual([]);
  });

  it('migrate_pages03 with CAP_SYS_NICE (the regression of 4b0ece6fa016): the KSM page really ping-pongs and every mapping follows it', () => {
    const { kernel, user } = numaMachine(2, 512);
    const p = user.createProcess({ name: 'migrate_pages03' });
    const nodes: number[][] = [];
    user.spawnThread(p, 0, function* (sys) {
      const addrs = yield* mergedKsmPages(sys);
      for (let i = 0; i < 4; i++) {
        const [from, to] = i % 2 === 0 ? [0, 1] : [1, 0];
        const ret = yield* sys.migratePages(0, MAXNODE, nodemaskWords([from]), nodemaskWords([to]));
        expect(ret).toBe(0);
        const seen: number[] = [];
        for (const a of addrs) seen.push(yield* addrOnNode(sys, a));
        nodes.push([...new Set(seen)]);
        for (const a of addrs) expect(yield* sys.read(a)).toBe(0);
      }
    });
    expect(kernel.run().status).toBe('completed');
    expect(nodes).toEqual([[1], [0], [1], [0]]);
    expect(kernel.vm.check()).toEqual([]);
  });
});

describe('LTP move_pages12 (hugetlb move_pages racing with free and soft offline)', () => {
  for (const softOffline of [false, true]) {
    it(`move_pages12${softOffline ? ' (variant 2, with MADV_SOFT_OFFLINE)' : ''}: a child moving the parent's hugetlb pages while the parent maps and frees them sees only ENOMEM`, () => {
      const kernel = createKernel({
        nodes: [
          { pages: 4096, hugetlbPages: 4 },
          { pages: 4096, hugetlbPages: 4 },
        ],
      });
      const user = createUserland(kernel);
      const parent = user.createProcess({ name: 'move_pages12' });
      const childErrors: number[] = [];
      const parentErrors: number[] = [];
      let done = false;
      let moves = 0;
      user.spawnThread(parent, 0, function* (sys) {
        // Learn an address for 2 huge pages, as LTP does, then give it back.
        const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
        const addr = yield* sys.mmap(0, 2 * HPAGE, PROT_READ | PROT_WRITE, flags);
        expect(addr).toBeGreaterThan(0);
        expect(yield* sys.munmap(addr, 2 * HPAGE)).toBe(0);
        const pages = Array.from({ length: (2 * HPAGE) / PAGE }, (_, i) => addr + i * PAGE);
        const parentPid = sys.getpid();
        const child = yield* sys.fork(function* (c) {
          for (let i = 0; !done; i++) {
            const node = i % 2;
            const status = new Array<number>(pages.length).fill(0);
            const nodes = new Array<number>(pages.length).fill(node);
            const ret = yield* c.movePages(
              parentPid,
              pages.length,
              pages,
              nodes,
              status,
              MPOL_MF_MOVE_ALL,
            );
            if (ret < 0 && c.errno !== ENOMEM) childErrors.push(c.errno);
            moves++;
            c.checkpointWake(0);
            yield;
          }
        }, 2);
        for (let i = 0; i < 3; i++) {
          const ptr = yield* sys.mmap(addr, 2 * HPAGE, PROT_READ | PROT_WRITE, flags);
          if (ptr === -1) {
            if (sys.errno !== ENOMEM) parentErrors.push(sys.errno);
            continue;
          }
          expect(ptr).toBe(addr);
          for (let off = 0; off < 2 * HPAGE; off += 64 * PAGE) yield* sys.write(ptr + off, 0);
          // Let the child's move_pages run against the mapped pages before they go (a sleep,
          // so that this CPU is free for the per-CPU work lru_add_drain_all waits for).
          yield* sys.checkpointWait(0);
          if (softOffline) {
            const r = yield* sys.madvise(ptr, HPAGE, MADV_SOFT_OFFLINE);
            if (r < 0 && ![EINVAL, EBUSY, ENOMEM].includes(sys.errno)) parentErrors.push(sys.errno);
          }
          expect(yield* sys.munmap(ptr, 2 * HPAGE)).toBe(0);
          yield;
        }
        done = true;
        yield* sys.waitpid(child);
      });
      const result = kernel.run();
      expect(result.status).toBe('completed');
      expect(childErrors).toEqual([]);
      expect(parentErrors).toEqual([]);
      expect(moves).toBeGreaterThan(0);
      expect(kernel.vm.check()).toEqual([]);
      // Every huge page went back to its pool.
      for (const nid of [0, 1]) {
        const c = kernel.hugetlbNodeCounters(nid);
        expect(c.free_hugepages).toBe(c.nr_hugepages);
      }
    });
  }
});
