import { z } from 'zod';
import { defineSyscall } from './syscall-spec.js';

const address = z.number().int().min(0).describe('A page-aligned user address.');
const length = z.number().int().describe('A length in bytes.');

/** `madvise(addr, length, advice)` for programs written as data. */
export const madviseCall = defineSyscall({
  name: 'madvise',
  doc: 'madvise(addr, length, advice): MADV_DONTNEED (4), MADV_MERGEABLE (12), MADV_HUGEPAGE (14), MADV_SOFT_OFFLINE (101), ...',
  args: z
    .object({ addr: address, length, advice: z.number().int().describe('MADV_* value.') })
    .strict(),
  *run(sys, a) {
    return { ret: yield* sys.madvise(a.addr, a.length, a.advice) };
  },
});

/** `mprotect(addr, length, prot)` for programs written as data. */
export const mprotectCall = defineSyscall({
  name: 'mprotect',
  doc: 'mprotect(addr, length, prot)',
  args: z
    .object({ addr: address, length, prot: z.number().int().describe('PROT_* bits.') })
    .strict(),
  *run(sys, a) {
    return { ret: yield* sys.mprotect(a.addr, a.length, a.prot) };
  },
});

/** `mremap(old_address, old_size, new_size, flags, new_address)` for programs written as data. */
export const mremapCall = defineSyscall({
  name: 'mremap',
  doc: 'mremap(old_address, old_size, new_size, flags, new_address): the (new) address or -1',
  args: z
    .object({
      old_address: address,
      old_size: length,
      new_size: length,
      flags: z
        .number()
        .int()
        .default(0)
        .describe('MREMAP_MAYMOVE (1), MREMAP_FIXED (2), MREMAP_DONTUNMAP (4).'),
      new_address: address.default(0),
    })
    .strict(),
  *run(sys, a) {
    return {
      ret: yield* sys.mremap(a.old_address, a.old_size, a.new_size, a.flags, a.new_address),
    };
  },
});
