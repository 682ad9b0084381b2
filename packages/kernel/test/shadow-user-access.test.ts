import { MAP_PRIVATE, MAP_SHARED, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel } from '../src/index.js';

/**
 * `wroteUserAccess` / `readUserAccess` are `wrote` / `read` of `userLocation(mm, addr)`
 * without the location object: the same store, the same checks, counts, violations (with
 * the same messages) and the same end-of-run report, for private pages, unaligned
 * addresses, a shared file mapping (whose words live in the file) and addresses outside
 * every VMA.
 */
describe('ShadowMemory user-access fast path', () => {
  type Op = readonly ['w' | 'r', number, number, string];

  /** A machine with a private area, a shared file mapping and a private file mapping. */
  function machine(): { k: Kernel; p: MmView; addrs: number[] } {
    const k = createKernel({ nodes: [{ pages: 4096 }] });
    const p = k.vm.createProcess('p');
    const priv = k.vm.mmap(p, { length: 600 * PAGE_SIZE });
    const file = k.createFile('f');
    const shared = k.vm.mmap(p, { length: 8 * PAGE_SIZE, flags: MAP_SHARED, file });
    const privFile = k.vm.mmap(p, { length: 8 * PAGE_SIZE, flags: MAP_PRIVATE, file });
    // Pages in two 2 MiB chunks of the private area, unaligned addresses, both file
    // mappings, and an address past every VMA (kept as a private word, as userLocation does).
    const addrs = [
      priv,
      priv + 3 * PAGE_SIZE + 17,
      priv + 513 * PAGE_SIZE,
      priv + 599 * PAGE_SIZE + 4095,
      shared + PAGE_SIZE,
      shared + 5 * PAGE_SIZE + 8,
      privFile + 2 * PAGE_SIZE,
      0x7000_0000_0000,
    ];
    return { k, p, addrs };
  }

  /** Random writes and reads (some reads see a wrong value) on the places of `machine`. */
  function ops(seed: number, n: number, places: number): Op[] {
    let s = seed >>> 0;
    const rnd = (m: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % m;
    };
    const out: Op[] = [];
    for (let i = 0; i < n; i++) {
      const place = rnd(places);
      const who = `t${rnd(3)}`;
      out.push(rnd(2) === 0 ? ['w', place, i, who] : ['r', place, rnd(4) === 0 ? -1 : i, who]);
    }
    return out;
  }

  it('records, checks and reports exactly as wrote / read of userLocation', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const general = machine();
      const fast = machine();
      const last = new Map<number, number>();
      const results: [boolean, boolean][] = [];
      for (const [op, place, v, who] of ops(seed, 300, general.addrs.length)) {
        const gAt = general.addrs[place]!;
        const fAt = fast.addrs[place]!;
        if (op === 'w') {
          general.k.shadow.wrote(general.k.shadow.userLocation(general.p, gAt), v, who);
          fast.k.shadow.wroteUserAccess(fast.p, fAt, v, fast.k.shadow.writerIndex(who));
          last.set(place, v);
        } else {
          // a read sees the last value written, or a wrong one (-1 stands for "wrong")
          const got = v === -1 ? 1e9 + place : (last.get(place) ?? 0);
          results.push([
            general.k.shadow.read(general.k.shadow.userLocation(general.p, gAt), got, who),
            fast.k.shadow.readUserAccess(fast.p, fAt, got, who),
          ]);
        }
      }
      for (const [g, f] of results) expect(f).toBe(g);
      expect(results.some(([g]) => !g)).toBe(true);
      expect(fast.k.shadow.violations).toEqual(general.k.shadow.violations);
      expect(fast.k.shadow.size).toBe(general.k.shadow.size);
      expect(fast.k.shadow.readsChecked).toBe(general.k.shadow.readsChecked);
      // verifyAll reads what every place holds: nothing maps the address past every VMA
      for (const m of [general, fast]) m.k.shadow.forget(m.k.shadow.userLocation(m.p, m.addrs[7]!));
      expect(fast.k.shadow.size).toBe(general.k.shadow.size);
      expect(fast.k.shadow.verifyAll()).toEqual(general.k.shadow.verifyAll());
    }
  });

  it('keeps a shared file mapping word in the file: another mapping of the file sees it', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    const a = k.vm.createProcess('a');
    const b = k.vm.createProcess('b');
    const file = k.createFile('f');
    const at = k.vm.mmap(a, { length: 4 * PAGE_SIZE, flags: MAP_SHARED, file });
    const bt = k.vm.mmap(b, { length: 4 * PAGE_SIZE, flags: MAP_SHARED, file });
    k.shadow.wroteUserAccess(a, at + 2 * PAGE_SIZE, 42, k.shadow.writerIndex('a'));
    expect(k.shadow.readUserAccess(b, bt + 2 * PAGE_SIZE, 42, 'b')).toBe(true);
    expect(k.shadow.readUserAccess(b, bt + 2 * PAGE_SIZE, 41, 'b')).toBe(false);
    expect(k.shadow.violations[0]).toContain(`f#${file.id}[2]`);
    expect(k.shadow.violations[0]).toContain('(by a)');
  });

  it('refuses a writer index writerIndex did not give', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    const p = k.vm.createProcess('p');
    const at = k.vm.mmap(p, { length: PAGE_SIZE });
    for (const bad of [0, -1, 1.5, 7]) {
      expect(() => k.shadow.wroteUserAccess(p, at, 1, bad)).toThrow(/writerIndex/);
    }
    expect(k.shadow.size).toBe(0);
  });
});
