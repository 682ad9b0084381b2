import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  formatNumaMaps,
  MPOL_BIND,
  MPOL_INTERLEAVE,
  nodemaskWords,
  numaMaps,
} from '../src/index.js';
import { MAXNODE, numaMachine } from './numa-helpers.js';

const RW = PROT_READ | PROT_WRITE;
const PAGE = 4096;

describe('numa_maps (show_numa_map)', () => {
  it('shows each VMA policy and where its pages are, as the kernel prints it', () => {
    const { kernel, user } = numaMachine(2);
    const p = user.createProcess({ name: 'numa-maps' });
    let text = '';
    let bindAddr = 0;
    user.spawnThread(p, 0, function* (sys) {
      bindAddr = yield* sys.mmap(0, 3 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      expect(yield* sys.mbind(bindAddr, 3 * PAGE, MPOL_BIND, nodemaskWords([1]), MAXNODE, 0)).toBe(
        0,
      );
      for (let i = 0; i < 3; i++) yield* sys.write(bindAddr + i * PAGE, i + 1);
      const il = yield* sys.mmap(0, 4 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      expect(
        yield* sys.mbind(il, 4 * PAGE, MPOL_INTERLEAVE, nodemaskWords([0, 1]), MAXNODE, 0),
      ).toBe(0);
      for (let i = 0; i < 4; i++) yield* sys.write(il + i * PAGE, 7);
      const shared = yield* sys.mmap(0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS);
      yield* sys.write(shared, 9);
      const child = yield* sys.fork(function* (c) {
        yield* c.read(shared);
        c.checkpointWake(1);
        yield* c.checkpointWait(0);
      });
      yield* sys.checkpointWait(1);
      text = formatNumaMaps(numaMaps(sys.userland, sys.process));
      sys.checkpointWake(0);
      yield* sys.waitpid(child);
    });
    expect(kernel.run().status).toBe('completed');
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.startsWith(bindAddr.toString(16)))).toBe(
      `${bindAddr.toString(16)} bind:1 anon=3 dirty=3 mapmax=2 N1=3 kernelpagesize_kB=4`,
    );
    expect(
      lines.some((l) =>
        / interleave:0-1 anon=4 dirty=4 mapmax=2 N0=2 N1=2 kernelpagesize_kB=4$/.test(l),
      ),
    ).toBe(true);
    expect(
      lines.some((l) => / default dirty=1 mapped=1 mapmax=2 N0=1 kernelpagesize_kB=4$/.test(l)),
    ).toBe(true);
  });

  it('a kernel thread has no numa_maps (a typed error, nothing changed)', () => {
    const { user } = numaMachine(2);
    expect(() => numaMaps(user, user.kernelThread('kthreadd'))).toThrow(MmsimError);
  });
});
