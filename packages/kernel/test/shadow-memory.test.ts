import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setPageContent } from '@mmsim/folio';
import { PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel } from '../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap used + array buffers after full collections (this isolate). */
function liveBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('ShadowMemory storage', () => {
  it('private words cost at most 32 bytes a page (typed arrays, not a map entry per page)', () => {
    const pages = 65_536;
    const k = createKernel({ nodes: [{ pages: 4096 }] });
    const p = k.vm.createProcess('p');
    const addr = k.vm.mmap(p, { length: pages * PAGE_SIZE });
    const before = liveBytes();
    for (let i = 0; i < pages; i++) {
      const at = addr + i * PAGE_SIZE;
      k.shadow.wrote(k.shadow.userLocation(p, at), i * 3, 'writer');
    }
    const bytes = liveBytes() - before;
    expect(k.shadow.size).toBe(pages);
    expect(bytes / pages).toBeLessThanOrEqual(32);
  });

  it('verifyAll reports places in the order they were first written, private words and file places alike', () => {
    const k = createKernel({ nodes: [{ pages: 4096 }] });
    const p = k.vm.createProcess('p');
    const addr = k.vm.mmap(p, { length: 2048 * PAGE_SIZE });
    const words = [1500, 3, 700, 1, 1024];
    const custom: Record<string, number> = { c1: 0, c2: 0 };
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (const i of words) yield* k.vm.userWrite(p, addr + i * PAGE_SIZE, 100 + i);
    });
    expect(k.rt.run().status).toBe('completed');
    // First writes in this order: 1500, c2, 3, 700, c1, 1, 1024; rewrites keep the place.
    const w = (i: number) =>
      k.shadow.wrote(k.shadow.userLocation(p, addr + i * PAGE_SIZE), 100 + i, 't');
    const c = (name: string) =>
      k.shadow.wrote({ kind: 'custom', name, read: () => custom[name]! }, 5, 't');
    w(1500);
    c('c2');
    w(3);
    w(700);
    c('c1');
    w(1);
    w(1024);
    w(1500);
    // Everything holds its word but the custom places (0, not 5) and pages 700 and 1500.
    const mem = k.mem;
    setPageContent(mem, k.vm.followPage(p, addr + 700 * PAGE_SIZE), 9);
    setPageContent(mem, k.vm.followPage(p, addr + 1500 * PAGE_SIZE), 8);
    const lost = k.shadow.verifyAll();
    expect(lost.map((m) => m.split(' holds')[0])).toEqual([
      `p#${p.id} 0x${(addr + 1500 * PAGE_SIZE).toString(16)}`,
      'c2',
      `p#${p.id} 0x${(addr + 700 * PAGE_SIZE).toString(16)}`,
      'c1',
    ]);
    // Forgotten and written again: the place moves to the end.
    k.shadow.forget(k.shadow.userLocation(p, addr + 1500 * PAGE_SIZE));
    w(1500);
    expect(k.shadow.verifyAll().map((m) => m.split(' holds')[0])).toEqual([
      'c2',
      `p#${p.id} 0x${(addr + 700 * PAGE_SIZE).toString(16)}`,
      'c1',
      `p#${p.id} 0x${(addr + 1500 * PAGE_SIZE).toString(16)}`,
    ]);
  });

  it('moveUser and forgetUser move and drop private words by address range', () => {
    const k = createKernel({ nodes: [{ pages: 4096 }] });
    const p = k.vm.createProcess('p');
    const addr = k.vm.mmap(p, { length: 1024 * PAGE_SIZE });
    const loc = (i: number) => k.shadow.userLocation(p, addr + i * PAGE_SIZE);
    for (const i of [0, 1, 600, 601]) k.shadow.wrote(loc(i), i + 1, 't');
    expect(k.shadow.size).toBe(4);
    k.shadow.moveUser(p, addr + 600 * PAGE_SIZE, 2 * PAGE_SIZE, addr + 10 * PAGE_SIZE);
    expect(k.shadow.size).toBe(4);
    expect(k.shadow.read(loc(10), 601, 'r')).toBe(true);
    expect(k.shadow.read(loc(11), 602, 'r')).toBe(true);
    expect(k.shadow.read(loc(600), 12345, 'r')).toBe(true); // nothing expected there now
    expect(k.shadow.read(loc(11), 7, 'r')).toBe(false);
    expect(k.shadow.violations[0]).toMatch(
      /^r read 7 at p#\d+ 0x[0-9a-f]+, but the last value written there was 602 \(by t\): a write was lost$/,
    );
    k.shadow.forgetUser(p, addr, addr + 2 * PAGE_SIZE);
    expect(k.shadow.size).toBe(2);
    k.shadow.forgetUser(p);
    expect(k.shadow.size).toBe(0);
  });
  it('keeps the words of two processes at the same addresses apart, and a chunk forgotten and written again starts fresh', () => {
    const k = createKernel({ nodes: [{ pages: 4096 }] });
    const p = k.vm.createProcess('p');
    const q = k.vm.createProcess('q');
    const len = 8 * PAGE_SIZE;
    const a = k.vm.mmap(p, { length: len });
    const b = k.vm.mmap(q, { length: len });
    const at = (mm: typeof p, base: number, i: number) =>
      k.shadow.userLocation(mm, base + i * PAGE_SIZE);
    // Interleaved writers and processes: every value stays with its own place and writer.
    for (let i = 0; i < 8; i++) {
      k.shadow.wrote(at(p, a, i), 10 + i, 'pw');
      k.shadow.wrote(at(q, b, i), 20 + i, 'qw');
    }
    for (let i = 0; i < 8; i++) {
      expect(k.shadow.read(at(p, a, i), 10 + i, 'r')).toBe(true);
      expect(k.shadow.read(at(q, b, i), 20 + i, 'r')).toBe(true);
    }
    expect(k.shadow.read(at(q, b, 3), 13, 'r')).toBe(false);
    expect(k.shadow.violations.at(-1)).toMatch(/last value written there was 23 \(by qw\)/);
    // p's whole range forgotten (its chunk leaves the store): nothing expected there, q intact.
    k.shadow.forgetUser(p);
    expect(k.shadow.read(at(p, a, 2), 999, 'r')).toBe(true);
    expect(k.shadow.read(at(q, b, 2), 999, 'r')).toBe(false);
    // Written again: a fresh chunk, checked again, and counted once per page.
    k.shadow.wrote(at(p, a, 2), 5, 'pw');
    expect(k.shadow.read(at(p, a, 2), 5, 'r')).toBe(true);
    expect(k.shadow.read(at(p, a, 2), 6, 'r')).toBe(false);
    expect(k.shadow.read(at(p, a, 3), 6, 'r')).toBe(true);
    expect(k.shadow.size).toBe(9);
    // The last page of q forgotten one by one: the chunk goes, then comes back.
    for (let i = 0; i < 8; i++) k.shadow.forget(at(q, b, i));
    expect(k.shadow.size).toBe(1);
    k.shadow.wrote(at(q, b, 7), 77, 'qw');
    expect(k.shadow.read(at(q, b, 7), 77, 'r')).toBe(true);
    expect(k.shadow.read(at(q, b, 6), 1, 'r')).toBe(true);
    expect(k.shadow.size).toBe(2);
  });
});
