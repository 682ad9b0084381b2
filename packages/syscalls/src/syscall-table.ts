import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '@mmsim/rmap';
import { z } from 'zod';
import {
  getMempolicyCall,
  mbindCall,
  migratePagesCall,
  setMempolicyCall,
} from './mempolicy-syscalls.js';
import { defineSyscall, type SyscallSpec } from './syscall-spec.js';
import { madviseCall, mprotectCall, mremapCall } from './vm-calls.js';

export { defineSyscall, type SyscallOutcome, type SyscallSpec } from './syscall-spec.js';

const address = z
  .number()
  .int()
  .min(0)
  .describe('A user address (page aligned where the call needs it).');
const length = z.number().int().describe('A length in bytes.');

const mmapCall = defineSyscall({
  name: 'mmap',
  doc: 'mmap(addr, length, prot, flags): anonymous memory; returns the address or -1',
  args: z
    .object({
      addr: address.default(0),
      length,
      prot: z
        .number()
        .int()
        .default(PROT_READ | PROT_WRITE)
        .describe('PROT_* bits.'),
      flags: z
        .number()
        .int()
        .default(MAP_PRIVATE | MAP_ANONYMOUS)
        .describe('MAP_* bits; default MAP_PRIVATE | MAP_ANONYMOUS.'),
    })
    .strict(),
  *run(sys, a) {
    return { ret: yield* sys.mmap(a.addr, a.length, a.prot, a.flags) };
  },
});

const munmapCall = defineSyscall({
  name: 'munmap',
  doc: 'munmap(addr, length)',
  args: z.object({ addr: address, length }).strict(),
  *run(sys, a) {
    return { ret: yield* sys.munmap(a.addr, a.length) };
  },
});

const mlockCall = defineSyscall({
  name: 'mlock',
  doc: 'mlock(addr, length)',
  args: z.object({ addr: address, length }).strict(),
  *run(sys, a) {
    return { ret: yield* sys.mlock(a.addr, a.length) };
  },
});

const munlockCall = defineSyscall({
  name: 'munlock',
  doc: 'munlock(addr, length)',
  args: z.object({ addr: address, length }).strict(),
  *run(sys, a) {
    return { ret: yield* sys.munlock(a.addr, a.length) };
  },
});

const uid = z.number().int().min(0).describe('A user id.');

const setuidCall = defineSyscall({
  name: 'setuid',
  doc: 'setuid(uid)',
  args: z.object({ uid }).strict(),
  *run(sys, a) {
    return { ret: sys.setuid(a.uid) };
  },
});

const seteuidCall = defineSyscall({
  name: 'seteuid',
  doc: 'seteuid(euid)',
  args: z.object({ euid: uid }).strict(),
  *run(sys, a) {
    return { ret: sys.seteuid(a.euid) };
  },
});

const prctlCall = defineSyscall({
  name: 'prctl',
  doc: 'prctl(option, arg2): PR_SET_DUMPABLE (4) and PR_GET_DUMPABLE (3)',
  args: z.object({ option: z.number().int(), arg2: z.number().int().default(0) }).strict(),
  *run(sys, a) {
    return { ret: sys.prctl(a.option, a.arg2) };
  },
});

const getpidCall = defineSyscall({
  name: 'getpid',
  doc: 'getpid()',
  args: z.object({}).strict(),
  *run(sys) {
    return { ret: sys.getpid() };
  },
});

const movePagesCall = defineSyscall({
  name: 'move_pages',
  doc: 'move_pages(pid, count, pages, nodes, flags): query (nodes null) or move pages; returns the pages not migrated or -1, with the status array',
  args: z
    .object({
      pid: z.number().int().default(0).describe('The target process; 0 is the caller.'),
      count: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe('The number of entries; default the length of pages.'),
      pages: z.array(z.number()).describe('The addresses of the pages.'),
      nodes: z
        .array(z.number().int())
        .nullable()
        .default(null)
        .describe('The target node of each page; null (the default) queries the nodes.'),
      flags: z
        .number()
        .int()
        .default(0)
        .describe('MPOL_MF_MOVE (2) or MPOL_MF_MOVE_ALL (4); 0 for a query.'),
    })
    .strict(),
  *run(sys, a) {
    const status = a.pages.map(() => 0);
    const ret = yield* sys.movePages(
      a.pid,
      a.count ?? a.pages.length,
      a.pages,
      a.nodes,
      status,
      a.flags,
    );
    return { ret, out: { status } };
  },
});

/**
 * Every system call programs written as data may make, by C name. Each call's file adds
 * its entry here.
 */
export const SYSCALLS: Readonly<Record<string, SyscallSpec<unknown>>> = Object.freeze({
  mmap: mmapCall,
  munmap: munmapCall,
  mlock: mlockCall,
  munlock: munlockCall,
  setuid: setuidCall,
  seteuid: seteuidCall,
  prctl: prctlCall,
  getpid: getpidCall,
  move_pages: movePagesCall,
  madvise: madviseCall,
  mprotect: mprotectCall,
  mremap: mremapCall,
  mbind: mbindCall,
  set_mempolicy: setMempolicyCall,
  get_mempolicy: getMempolicyCall,
  migrate_pages: migratePagesCall,
});
