import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { PROT_READ, PROT_WRITE } from '../src/index.js';
import type { Mm, Vma } from '../src/internal.js';
import { createRmapMachine as machine } from '../src/testing/index.js';

const PAGE = 4096;

/** `vma_lookup` by a scan of every VMA: the reference for `Mm.vmaLookup`. */
function scan(mm: Mm, addr: number): Vma | null {
  for (const vma of mm.vmas) if (vma.start <= addr && addr < vma.end) return vma;
  return null;
}

/**
 * `Mm.vmaLookup` tries the slot of `vmas` that answered last before its binary search. That
 * hint must never answer for a VMA that no longer contains the address: VMAs are split,
 * merged, shrunk, grown, inserted before it and removed (munmap, mprotect, mremap, exit)
 * between lookups that keep the hint warm on the same addresses.
 */
describe('Mm.vmaLookup with its last-slot hint', () => {
  it('answers as a scan of the VMAs through splits, merges, shrinks, removals and exit', () => {
    for (let seed = 1; seed <= 12; seed++) {
      let s = seed;
      const rnd = (m: number) => {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        return (s >>> 8) % m;
      };
      const { vm, rt } = machine();
      const p = vm.createProcess() as Mm;
      let checked = 0;
      const probe = (base: number, span: number) => {
        // warm the hint on a random address, then ask around it and everywhere
        for (let i = 0; i < 40; i++) {
          const addr = base + rnd(span * PAGE) - PAGE;
          expect(p.vmaLookup(addr)).toBe(scan(p, addr));
          expect(p.vmaLookup(addr + PAGE)).toBe(scan(p, addr + PAGE));
          checked += 2;
        }
      };
      rt.spawn('main', 0, function* (): KernelGen {
        const areas = Array.from({ length: 4 }, () => vm.mmap(p, { length: 64 * PAGE }));
        const base = Math.min(...areas);
        const span = Math.max(...areas) + 64 * PAGE - base;
        probe(base, span / PAGE + 2);
        for (let step = 0; step < 30; step++) {
          const area = areas[rnd(areas.length)]!;
          const at = area + rnd(60) * PAGE;
          const len = (1 + rnd(8)) * PAGE;
          switch (rnd(4)) {
            case 0:
              yield* vm.munmap(p, at, len);
              break;
            case 1:
              yield* vm.mprotect(p, at, len, PROT_READ);
              break;
            case 2:
              yield* vm.mprotect(p, at, len, PROT_READ | PROT_WRITE);
              break;
            default: {
              const vma = p.vmaLookup(at);
              if (vma !== null && vma.end - vma.start > PAGE) {
                yield* vm.mremap(p, vma.start, vma.end - vma.start, PAGE, 0);
              }
            }
          }
          probe(base, span / PAGE + 2);
        }
        const some = p.vmas[0]?.start ?? base;
        expect(p.vmaLookup(some)).toBe(scan(p, some));
        yield* vm.exit(p);
        expect(p.vmas).toHaveLength(0);
        expect(p.vmaLookup(some)).toBeNull();
      });
      expect(rt.run().status).toBe('completed');
      expect(checked).toBeGreaterThan(2000);
    }
  });
});
