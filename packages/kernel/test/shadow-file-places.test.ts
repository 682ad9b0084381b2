import type { AddressSpaceView } from '@mmsim/rmap';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel, type ShadowLocation } from '../src/index.js';

/**
 * The shadow keeps file places by file id and page index (no key string per store or
 * load). Oracle: the same operations on custom places named by the file place's key
 * (`keyOf`) and reading what the file place holds, which the shadow keeps by key as it
 * kept every file place before. Both must give the same load results, violations (same
 * messages), sizes, counts and end report, with `wroteFile` / `readFile` and `wrote` /
 * `read` / `forget` of file locations mixed, and a second file with the same id under
 * another name (kept by key).
 */
describe('ShadowMemory file places', () => {
  type Op = readonly ['w' | 'W' | 'r' | 'R' | 'f' | 'c', number, number, string];

  interface Machine {
    readonly k: Kernel;
    /** The places: pages of file f, then pages of file g (another machine's file id 1). */
    readonly places: readonly { readonly file: AddressSpaceView; readonly index: number }[];
  }

  function machine(): Machine {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    const f = k.createFile('f');
    const g = createKernel({ nodes: [{ pages: 1024 }] }).createFile('g');
    expect(g.id).toBe(f.id); // the same id, another name
    const places = [
      ...[0, 1, 2, 7, 100].map((index) => ({ file: f, index })),
      ...[0, 3].map((index) => ({ file: g, index })),
    ];
    return { k, places };
  }

  function ops(seed: number, n: number, places: number): Op[] {
    let s = seed >>> 0;
    const rnd = (m: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % m;
    };
    const kinds = ['w', 'W', 'r', 'R', 'f', 'c'] as const;
    return Array.from({ length: n }, (_, i): Op => {
      const kind = kinds[rnd(10) % kinds.length]!;
      return [kind, rnd(places), rnd(4) === 0 ? -1 : i, `t${rnd(3)}`];
    });
  }

  it('record, check, forget and report exactly as places kept by key', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const fast = machine();
      const ref = machine();
      const fileLoc = (m: Machine, p: number): ShadowLocation => ({
        kind: 'file',
        file: m.places[p]!.file,
        index: m.places[p]!.index,
      });
      const custom = (p: number): ShadowLocation => {
        const where = fileLoc(ref, p);
        return {
          kind: 'custom',
          name: ref.k.shadow.keyOf(where),
          read: () => ref.k.shadow.current(where),
        };
      };
      const last = new Map<number, number>();
      const results: [boolean, boolean][] = [];
      for (const [op, p, v, who] of ops(seed, 200, fast.places.length)) {
        const { file, index } = fast.places[p]!;
        switch (op) {
          case 'w':
          case 'W':
            if (op === 'w') fast.k.shadow.wroteFile(file, index, v, who);
            else fast.k.shadow.wrote(fileLoc(fast, p), v, who);
            ref.k.shadow.wrote(custom(p), v, who);
            last.set(p, v);
            break;
          case 'r':
          case 'R': {
            const got = v === -1 ? 1e9 + p : (last.get(p) ?? 0);
            results.push([
              ref.k.shadow.read(custom(p), got, who),
              op === 'r'
                ? fast.k.shadow.readFile(file, index, got, who)
                : fast.k.shadow.read(fileLoc(fast, p), got, who),
            ]);
            break;
          }
          case 'f':
            fast.k.shadow.forget(fileLoc(fast, p));
            ref.k.shadow.forget(custom(p));
            last.delete(p);
            break;
          case 'c':
            // what the file holds changes behind the shadow's back (its "disk")
            (file.backing as Map<number, number>).set(index, v);
            (ref.places[p]!.file.backing as Map<number, number>).set(index, v);
            break;
        }
        expect(fast.k.shadow.size).toBe(ref.k.shadow.size);
      }
      for (const [want, got] of results) expect(got).toBe(want);
      expect(results.some(([want]) => !want)).toBe(true);
      expect(fast.k.shadow.violations).toEqual(ref.k.shadow.violations);
      expect(fast.k.shadow.readsChecked).toBe(ref.k.shadow.readsChecked);
      const report = fast.k.shadow.verifyAll();
      expect(report).toEqual(ref.k.shadow.verifyAll());
      expect(fast.k.shadow.violations).toEqual(ref.k.shadow.violations);
    }
  });
});
