import { describe, expect, test } from 'vitest';
import { checkPhysicalMemory, folioAlloc, folioPagesByNode } from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import {
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_OFFLINE,
  FRAME_TAIL,
  hugeTemporaryArray,
  type Memmap,
  memmapOf,
} from '../src/memmap.js';
import { richMemory, seededRandom } from './rich-memory.js';

/*
 * `checkPhysicalMemory` answers from `physicalMemoryLooksSound` (one walk, no messages)
 * when that says sound, and from `reportPhysicalMemory` (check by check) otherwise. The
 * walk must never call sound what the report finds wrong, nor (for speed) the reverse.
 */

type Field = keyof Memmap;
const PER_PFN: readonly Field[] = [
  'state',
  'flags',
  'refcount',
  'mapcount',
  'entireMapcount',
  'totalMapcount',
  'order',
  'headOf',
  'nid',
  'folioType',
  'mappingId',
  'listId',
  'next',
  'prev',
  'content',
  'freeKind',
];
const COUNTERS: readonly Field[] = [
  'nodeFree',
  'nodeFreeCma',
  'nodeFreeIsolated',
  'nodeOffline',
  'freeHead',
  'freeTail',
  'nrFree',
  'hugeFreeHead',
  'nrHugePages',
  'freeHugePages',
  'surplusHugePages',
];

/** The pfns where something is: heads, tails next to them, block edges, list links. */
function interesting(m: Memmap): number[] {
  const out: number[] = [0, m.zeroPfn];
  for (let nid = 0; nid < m.nrNodes; nid++) {
    for (let p = m.nodeStart[nid]!; p < m.nodeEnd[nid]!; p++) {
      if (m.state[p] !== m.state[p - 1] || m.headOf[p] === p || m.listId[p] !== 0) {
        out.push(p - 1, p, p + 1);
      }
    }
    out.push(m.nodeEnd[nid]!, m.nodeEnd[nid]! - 1);
  }
  return out.filter((p) => p >= 0 && p < m.maxPfn);
}

describe('physicalMemoryLooksSound agrees with reportPhysicalMemory', () => {
  test('the rich machine is sound for both', () => {
    const mem = richMemory();
    expect(reportPhysicalMemory(mem)).toEqual([]);
    expect(physicalMemoryLooksSound(memmapOf(mem))).toBe(true);
  });

  test('2,000 random one-field corruptions of the rich machine: same verdict each time', () => {
    const next = seededRandom(17);
    const pfns = interesting(memmapOf(richMemory()));
    const disagreements: string[] = [];
    let unsound = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const mem = richMemory();
      const m = memmapOf(mem);
      const counter = next() < 0.15;
      const field = counter
        ? COUNTERS[Math.floor(next() * COUNTERS.length)]!
        : PER_PFN[Math.floor(next() * PER_PFN.length)]!;
      const array = m[field] as unknown as Float64Array;
      const at = counter
        ? Math.floor(next() * array.length)
        : next() < 0.7
          ? pfns[Math.floor(next() * pfns.length)]!
          : Math.floor(next() * m.maxPfn);
      const old = array[at]!;
      // Orders from 31 on (no block has one) make `1 << order` wrap: the walks must not.
      const choices =
        field === 'order'
          ? [old + 1, Math.max(old - 1, 0), 0, 1, 2, 9, 11, 12, 31, 32, 255]
          : [old + 1, old - 1, 0, 1, 2, -1, Math.floor(next() * m.maxPfn)];
      const value = choices[Math.floor(next() * choices.length)]!;
      array[at] = value;
      if (array[at] === old) continue;
      const report = reportPhysicalMemory(mem);
      const sound = physicalMemoryLooksSound(m);
      if (report.length > 0) unsound++;
      if (sound !== (report.length === 0)) {
        disagreements.push(
          `trial ${trial}: ${String(field)}[${at}] ${old} -> ${value}: looks sound ${sound}, report ${report[0]}`,
        );
      }
      expect(checkPhysicalMemory(mem)).toEqual(report);
    }
    expect(disagreements).toEqual([]);
    expect(unsound).toBeGreaterThan(700);
  });

  test('a folio head or a free block with an order from 31 on is reported, not walked forever', () => {
    for (const kind of [FRAME_HEAD, FRAME_BUDDY]) {
      for (const order of [30, 31, 32, 63, 255]) {
        const mem = richMemory();
        const m = memmapOf(mem);
        let at = m.nodeStart[0]!;
        while (m.state[at] !== kind) at++;
        m.order[at] = order;
        const report = reportPhysicalMemory(mem);
        expect(report.some((p) => p.includes(`(order ${order})`))).toBe(true);
        expect(physicalMemoryLooksSound(m)).toBe(false);
        expect(checkPhysicalMemory(mem)).toEqual(report);
        const used = new Float64Array(m.nrNodes);
        folioPagesByNode(mem, used);
        folioPagesByNode(mem, used, true);
      }
    }
  });

  test('HPageTemporary on a tail, a free frame or an offline frame', () => {
    for (const where of ['tail', 'free', 'offline'] as const) {
      const mem = richMemory();
      const m = memmapOf(mem);
      let pfn = -1;
      for (let p = 0; p < m.maxPfn && pfn < 0; p++) {
        const s = m.state[p];
        if (
          (where === 'tail' && s === FRAME_TAIL) ||
          (where === 'free' && s === FRAME_FREE) ||
          (where === 'offline' && s === FRAME_OFFLINE)
        ) {
          pfn = p;
        }
      }
      hugeTemporaryArray(m)[pfn] = 1;
      expect(physicalMemoryLooksSound(m)).toBe(false);
      expect(checkPhysicalMemory(mem).join('\n')).toMatch(/is marked temporary/);
    }
  });

  test('a hugetlb reservation larger than the free pool pages', () => {
    const mem = richMemory();
    const m = memmapOf(mem);
    m.resvHugePages = 5;
    expect(physicalMemoryLooksSound(m)).toBe(false);
    expect(checkPhysicalMemory(mem).join('\n')).toMatch(/resv_huge_pages 5 is outside/);
  });

  test('a folio list whose size is off by one', () => {
    const mem = richMemory();
    const m = memmapOf(mem);
    const id = m.listId.find((x) => x !== 0)!;
    const list = m.lists[id]!;
    (list as unknown as { addTail(f: number): void }).addTail(folioAlloc(mem, 0, 1) as number);
    m.listId[list.last()] = 0; // on the list by its links, no longer by its id
    expect(physicalMemoryLooksSound(m)).toBe(false);
    expect(checkPhysicalMemory(mem).length).toBeGreaterThan(0);
  });
});

describe('folioPagesByNode', () => {
  test('counts the pages of allocated folios per node, pooled and free frames not', () => {
    const mem = richMemory();
    const used = new Float64Array(2);
    folioPagesByNode(mem, used);
    // node 0: the zero page, 1 + 1 + 2 + 4 + 512 on the list, a hugetlb folio in use (512);
    // node 1: 8, the temporary hugetlb folio (512, in the isolated block), the CMA page.
    expect([...used]).toEqual([1 + 1 + 1 + 2 + 4 + 512 + 512, 8 + 512 + 1]);
  });
});
