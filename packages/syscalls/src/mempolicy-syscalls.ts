import { z } from 'zod';
import { nodesOfWords } from './nodemask-arg.js';
import type { SyscallSpec } from './syscall-spec.js';

/*
 * The memory-policy system calls as programs written as data call them (the `SYSCALLS`
 * table). A node mask is the C form: `nodemask`, the words of the mask (numbers, bit n of
 * the array is node n; null for NULL), and `maxnode`, one more than the bits the kernel
 * reads.
 */

const address = z.number().int().min(0).describe('A user address.');
const words = z
  .array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))
  .nullable()
  .describe('The node mask: words of 64 bits (bit n of the array is node n), or null.');
const maxnode = z
  .number()
  .int()
  .describe('One more than the number of mask bits the kernel reads (the C maxnode).');
const mode = z
  .number()
  .int()
  .describe('MPOL_* mode, or-ed with MPOL_F_STATIC_NODES / MPOL_F_RELATIVE_NODES.');

export const mbindCall = {
  name: 'mbind',
  doc: 'mbind(addr, len, mode, nodemask, maxnode, flags): the policy of a range, MPOL_MF_* moves its pages',
  args: z
    .object({
      addr: address,
      len: z.number().int().describe('A length in bytes.'),
      mode,
      nodemask: words.default(null),
      maxnode: maxnode.default(0),
      flags: z
        .number()
        .int()
        .default(0)
        .describe('MPOL_MF_STRICT (1), MPOL_MF_MOVE (2), MPOL_MF_MOVE_ALL (4).'),
    })
    .strict(),
  *run(sys, a) {
    return { ret: yield* sys.mbind(a.addr, a.len, a.mode, a.nodemask, a.maxnode, a.flags) };
  },
} satisfies SyscallSpec<{
  addr: number;
  len: number;
  mode: number;
  nodemask: number[] | null;
  maxnode: number;
  flags: number;
}>;

export const setMempolicyCall = {
  name: 'set_mempolicy',
  doc: "set_mempolicy(mode, nodemask, maxnode): the calling thread's policy",
  args: z.object({ mode, nodemask: words.default(null), maxnode: maxnode.default(0) }).strict(),
  *run(sys, a) {
    return { ret: yield* sys.setMempolicy(a.mode, a.nodemask, a.maxnode) };
  },
} satisfies SyscallSpec<{ mode: number; nodemask: number[] | null; maxnode: number }>;

export const getMempolicyCall = {
  name: 'get_mempolicy',
  doc: 'get_mempolicy(&mode, nodemask, maxnode, addr, flags): out.mode, and out.nodes (node ids) when maxnode is given',
  args: z
    .object({
      maxnode: maxnode.default(0),
      addr: address.default(0),
      flags: z
        .number()
        .int()
        .default(0)
        .describe('MPOL_F_NODE (1), MPOL_F_ADDR (2), MPOL_F_MEMS_ALLOWED (4).'),
    })
    .strict(),
  *run(sys, a) {
    const m = { value: 0 };
    const mask: bigint[] | null = a.maxnode > 0 ? [] : null;
    const ret = yield* sys.getMempolicy(m, mask, a.maxnode, a.addr, a.flags);
    return { ret, out: { mode: m.value, ...(mask === null ? {} : { nodes: nodesOfWords(mask) }) } };
  },
} satisfies SyscallSpec<{ maxnode: number; addr: number; flags: number }>;

export const migratePagesCall = {
  name: 'migrate_pages',
  doc: 'migrate_pages(pid, maxnode, old_nodes, new_nodes): pages of pid on old nodes to new nodes; returns pages not moved',
  args: z
    .object({
      pid: z.number().int().describe('The process; 0 for the caller.'),
      maxnode,
      oldNodes: words,
      newNodes: words,
    })
    .strict(),
  *run(sys, a) {
    return { ret: yield* sys.migratePages(a.pid, a.maxnode, a.oldNodes, a.newNodes) };
  },
} satisfies SyscallSpec<{
  pid: number;
  maxnode: number;
  oldNodes: number[] | null;
  newNodes: number[] | null;
}>;
