import { folioAlloc } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel, lockClassOf, populateFile } from '../src/index.js';

/** Caches the given indices of new files (order-0 folios), in one task; the folios by file. */
function cached(k: Kernel, files: Record<string, number[]>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  k.rt.spawn('init', 0, function* (): KernelGen {
    for (const [name, indices] of Object.entries(files)) {
      out[name] = yield* populateFile(k, k.createFile(name), indices);
    }
  });
  k.run();
  return out;
}

/*
 * The class names are kept across machines (module-level tables): a kept name must be the
 * one a fresh computation gives for the folio's state now, on whatever machine.
 */
describe('the lock classes the kernel gives the dependency checker', () => {
  it('names a frame by its pfn, the same string on every machine', () => {
    const a = createKernel({ nodes: [{ pages: 1024 }] });
    const b = createKernel({ nodes: [{ pages: 1024 }] });
    const f = folioAlloc(a.mem, 0, 0);
    const byFrame = lockClassOf(a.mem, 'folio');
    expect(byFrame(f)).toBe(`folio 0x${f.toString(16)}`);
    expect(lockClassOf(b.mem, 'folio')(f)).toBe(byFrame(f));
    expect(byFrame(0x2a1)).toBe('folio 0x2a1');
    // Past the kept range: made each time, same value.
    expect(byFrame(0x123456)).toBe('folio 0x123456');
  });

  it('names a page-cache folio by what it caches now, a frame of no file by its pfn', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    const classOf = lockClassOf(k.mem, 'page-cache-index');
    const anon = folioAlloc(k.mem, 0, 0);
    const {
      'x.img': [x3, x7],
      'y.img': [y3],
    } = cached(k, { 'x.img': [3, 7], 'y.img': [3] }) as {
      'x.img': number[];
      'y.img': number[];
    };
    expect([classOf(x3!), classOf(x7!), classOf(y3!)]).toEqual([
      'x.img[3]',
      'x.img[7]',
      'y.img[3]',
    ]);
    expect(classOf(anon)).toBe(`folio 0x${anon.toString(16)}`);
    // Another machine: the same frames cache other files' pages, under their names.
    const other = createKernel({ nodes: [{ pages: 1024 }] });
    const otherClassOf = lockClassOf(other.mem, 'page-cache-index');
    expect(folioAlloc(other.mem, 0, 0)).toBe(anon);
    const again = cached(other, { 'z.img': [7], 'x.img': [9] });
    expect(again['z.img']![0]).toBe(x3);
    expect(otherClassOf(again['z.img']![0]!)).toBe('z.img[7]');
    expect(otherClassOf(again['x.img']![0]!)).toBe('x.img[9]');
    expect(classOf(x3!)).toBe('x.img[3]');
  });
});
