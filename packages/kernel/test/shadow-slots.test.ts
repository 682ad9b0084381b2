import { setPageContent } from '@mmsim/folio';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel } from '../src/index.js';

/**
 * The private words of the shadow memory sit in 512-page chunks, a page's slot being the
 * low bits of its virtual page number (`slotOf`). A user vpn is above 2^30 (a double in
 * V8) and can be above 2^31 and 2^32, where a slot taken through a 32-bit signed integer
 * (`vpn | 0`) goes negative or wraps: places at the chunk edges on both sides of those
 * bounds must each keep their own word, and a write lost at any of them must be reported,
 * by the load that sees it and by the end check.
 */
describe('ShadowMemory private-word slots', () => {
  /** Two pages on each side of virtual page `vpn` (a chunk boundary). */
  const boundaries = [2 ** 30, 2 ** 31, 2 ** 32, 2 ** 34 + 2 ** 9];

  function machine(): { k: Kernel; p: MmView; addrs: number[] } {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    const p = k.vm.createProcess('p');
    const addrs: number[] = [];
    for (const vpn of boundaries) {
      const start = (vpn - 2) * PAGE_SIZE;
      const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      expect(k.vm.mmap(p, { addr: start, length: 4 * PAGE_SIZE, flags })).toBe(start);
      for (let i = 0; i < 4; i++) addrs.push(start + i * PAGE_SIZE);
    }
    // The top of the address space too (TASK_SIZE is 2^47 - one page).
    const top = 2 ** 47 - 3 * PAGE_SIZE;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    expect(k.vm.mmap(p, { addr: top, length: 2 * PAGE_SIZE, flags })).toBe(top);
    addrs.push(top, top + PAGE_SIZE);
    return { k, p, addrs };
  }

  /** A task storing `value(i)` at each address (the store and its record in one step). */
  function store(k: Kernel, p: MmView, addrs: number[], value: (i: number) => number): void {
    k.rt.spawn('w', 0, function* (): KernelGen {
      const who = k.shadow.writerIndex('w');
      for (let i = 0; i < addrs.length; i++) {
        yield* k.vm.userWrite(p, addrs[i]!, value(i));
        k.shadow.wroteUserAccess(p, addrs[i]!, value(i), who);
      }
    });
    expect(k.rt.run().status).toBe('completed');
  }

  it('keeps one word per page at chunk edges above 2^30, 2^31, 2^32 and at the top', () => {
    const { k, p, addrs } = machine();
    store(k, p, addrs, (i) => 1000 + i);
    expect(k.shadow.size).toBe(addrs.length);
    for (let i = 0; i < addrs.length; i++) {
      // its own word matches; a neighbour's word (a misplaced slot) does not
      expect(k.shadow.readUserAccess(p, addrs[i]!, 1000 + i, 'r')).toBe(true);
      const other = i % 4 === 3 ? i - 1 : i + 1;
      expect(k.shadow.readUserAccess(p, addrs[i]!, 1000 + other, 'r')).toBe(false);
    }
    expect(k.shadow.violations).toHaveLength(addrs.length);
    expect(k.shadow.violations[0]).toContain(`0x${addrs[0]!.toString(16)}`);
    expect(k.shadow.verifyAll()).toEqual([]);
  });

  it('reports a write lost at any of those places, at the load and at the end', () => {
    for (let lost = 0; lost < 18; lost++) {
      const { k, p, addrs } = machine();
      store(k, p, addrs, (i) => 1000 + i);
      // the frame of one page loses its word (as a copy to a frame nobody maps would)
      setPageContent(k.mem, k.vm.followPage(p, addrs[lost]!), 7);
      const key = `p#${p.id} 0x${addrs[lost]!.toString(16)}`;
      expect(k.shadow.verifyAll()).toEqual([
        `${key} holds 7, but the last value written there was ${1000 + lost} (by w): a write was lost`,
      ]);
      expect(k.shadow.readUserAccess(p, addrs[lost]!, 7, 'r')).toBe(false);
      expect(k.shadow.violations.at(-1)).toBe(
        `r read 7 at ${key}, but the last value written there was ${1000 + lost} (by w): a write was lost`,
      );
    }
  });

  it('forgets a page at a chunk edge without touching its neighbours', () => {
    const { k, p, addrs } = machine();
    store(k, p, addrs, (i) => 1000 + i);
    // vpn 2^32 - 1 and 2^32: the last slot of one chunk and the first of the next
    k.shadow.forget(k.shadow.userLocation(p, addrs[9]!));
    expect(k.shadow.size).toBe(addrs.length - 1);
    expect(k.shadow.readUserAccess(p, addrs[9]!, 5, 'r')).toBe(true); // nothing expected
    expect(k.shadow.readUserAccess(p, addrs[10]!, 5, 'r')).toBe(false);
    expect(k.shadow.readUserAccess(p, addrs[8]!, 1008, 'r')).toBe(true);
  });
});
