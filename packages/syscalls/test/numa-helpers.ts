import { createKernel, type Kernel } from '@mmsim/kernel';
import type { KernelGen } from '@mmsim/runtime';
import { expect } from 'vitest';
import {
  createUserland,
  MPOL_F_ADDR,
  MPOL_F_NODE,
  nodemaskWords,
  type Sys,
  type Userland,
} from '../src/index.js';

/**
 * LTP's `sane_max_node`: `LTP_ALIGN(get_max_node(), BITS_PER_LONG)`, 64 on a machine of up
 * to 64 possible nodes (ltp/testcases/kernel/syscalls/migrate_pages/migrate_pages01.c).
 */
export const MAXNODE = 64;

/** An n-node machine (two CPUs per node, CPUs of node 0 first) with its user space. */
export function numaMachine(nodes: number, pagesPerNode = 256): { kernel: Kernel; user: Userland } {
  const kernel = createKernel({
    nodes: Array.from({ length: nodes }, () => ({ pages: pagesPerNode })),
  });
  return { kernel, user: createUserland(kernel) };
}

/** The first CPU of node `nid` (two CPUs per node). */
export function cpuOfNode(nid: number): number {
  return 2 * nid;
}

/**
 * LTP's `addr_on_node(addr)` (migrate_pages02.c): `get_mempolicy(&node, NULL, 0, addr,
 * MPOL_F_NODE | MPOL_F_ADDR)`, which must succeed.
 */
export function* addrOnNode(sys: Sys, addr: number): KernelGen<number> {
  const node = { value: -1 };
  const ret = yield* sys.getMempolicy(node, null, 0, addr, MPOL_F_NODE | MPOL_F_ADDR);
  expect(ret, `get_mempolicy errno ${sys.errno}`).toBe(0);
  return node.value;
}

/**
 * LTP's `migrate_to_node(pid, node)` (migrate_pages02.c): old = every allowed node, new =
 * {node}; returns what migrate_pages returned, which must not be negative.
 */
export function* migrateToNode(
  sys: Sys,
  pid: number,
  node: number,
  allowed: readonly number[],
): KernelGen<number> {
  const ret = yield* sys.migratePages(pid, MAXNODE, nodemaskWords(allowed), nodemaskWords([node]));
  expect(ret, `migrate_pages errno ${sys.errno}`).toBeGreaterThanOrEqual(0);
  return ret;
}
