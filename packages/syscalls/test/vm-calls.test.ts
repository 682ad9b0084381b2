import {
  MADV_DONTNEED,
  MADV_MERGEABLE,
  MADV_SOFT_OFFLINE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  VM_MERGEABLE,
  VM_WRITE,
} from '@mmsim/rmap';
import { EINVAL, EPERM } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { SYSCALLS } from '../src/index.js';
import { machine } from './support.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const PAGE = 4096;
const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;

describe('madvise, mprotect and mremap through Sys', () => {
  it('mremap moves the words with the pages; the lost-write check expects them at the new place', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'mremap' });
    const seen: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const a = yield* sys.mmap(0, 2 * PAGE, RW, ANON);
      yield* sys.write(a, 11);
      yield* sys.write(a + PAGE, 12);
      const target = a + 64 * PAGE;
      const b = yield* sys.mremap(a, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
      seen.push(b === target ? 1 : 0, yield* sys.read(b), yield* sys.read(b + PAGE));
      seen.push(yield* sys.mremap(b + 1, PAGE, PAGE, 0), sys.errno);
    });
    const result = kernel.run();
    expect(result.deadlock).toBeNull();
    expect(seen).toEqual([1, 11, 12, -1, EINVAL]);
    expect(kernel.shadow.verifyAll()).toEqual([]);
  });

  it('MADV_DONTNEED drops the private words: the next read sees zero and no write is reported lost', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'dontneed' });
    const seen: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const a = yield* sys.mmap(0, PAGE, RW, ANON);
      yield* sys.write(a, 5);
      seen.push(yield* sys.madvise(a, PAGE, MADV_DONTNEED), yield* sys.read(a));
    });
    kernel.run();
    expect(seen).toEqual([0, 0]);
    expect(kernel.shadow.verifyAll()).toEqual([]);
  });

  it('MADV_MERGEABLE reaches KSM; MADV_SOFT_OFFLINE needs CAP_SYS_ADMIN; mprotect drops VM_WRITE', () => {
    const { kernel, user } = machine();
    const p = user.createProcess({ name: 'advice', uid: 1000 });
    const seen: number[] = [];
    user.spawnThread(p, 0, function* (sys) {
      const addr = yield* sys.mmap(0, PAGE, RW, ANON);
      yield* sys.write(addr, 1);
      seen.push(yield* sys.madvise(addr, PAGE, MADV_MERGEABLE));
      seen.push(yield* sys.madvise(addr, PAGE, MADV_SOFT_OFFLINE), sys.errno);
      seen.push(yield* sys.mprotect(addr, PAGE, PROT_READ));
      seen.push(yield* sys.read(addr));
      const flags = sys.mm.vmaLookup(addr)?.flags ?? 0;
      seen.push((flags & VM_MERGEABLE) !== 0 ? 1 : 0, flags & VM_WRITE);
    });
    kernel.run();
    expect(seen).toEqual([0, -1, EPERM, 0, 1, 1, 0]);
  });

  it('the table has madvise, mprotect and mremap with their C argument names', () => {
    expect(SYSCALLS.madvise?.args.safeParse({ addr: 0, length: PAGE, advice: 4 }).success).toBe(
      true,
    );
    expect(SYSCALLS.mprotect?.args.safeParse({ addr: 0, length: PAGE }).success).toBe(false);
    expect(
      SYSCALLS.mremap?.args.safeParse({ old_address: 0, old_size: PAGE, new_size: 2 * PAGE })
        .success,
    ).toBe(true);
  });
});
