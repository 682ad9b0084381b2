import { MmsimError } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  assertPhysicalMemory,
  checkPhysicalMemory,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  type PhysicalMemory,
} from '../src/index.js';
import {
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_HEAD,
  hugeTemporaryArray,
  memmapOf,
} from '../src/memmap.js';

function machine(): PhysicalMemory {
  return createPhysicalMemory({ nodes: [{ pages: 2048, hugetlbPages: 1 }, { pages: 1024 }] });
}

describe('checkPhysicalMemory', () => {
  test('a sound machine has no problems and assert passes', () => {
    const mem = machine();
    folioAlloc(mem, 3, 1);
    expect(checkPhysicalMemory(mem)).toEqual([]);
    expect(() => assertPhysicalMemory(mem)).not.toThrow();
  });

  const corruptions: Array<[string, (mem: PhysicalMemory) => void, RegExp]> = [
    [
      'a free frame claimed by a folio without leaving the free list',
      (mem) => {
        const m = memmapOf(mem);
        const pfn = m.freeHead[1 * 11 + 10]!; // node 1's order-10 block
        m.state[pfn] = FRAME_HEAD;
        m.refcount[pfn] = 1;
      },
      /not a free block|free but in no buddy block|free counter/,
    ],
    [
      'nr_free out of step with the list',
      (mem) => {
        memmapOf(mem).nrFree[1 * 11 + 10]!++;
      },
      /nr_free 2 but 1 blocks listed/,
    ],
    [
      'two free buddies left unmerged',
      (mem) => {
        const m = memmapOf(mem);
        // Split node 1's order-10 block into two order-9 blocks by hand, without merging.
        const pfn = 1024 * 2;
        m.freeHead[11 + 10] = -1;
        m.freeTail[11 + 10] = -1;
        m.nrFree[11 + 10] = 0;
        m.order[pfn] = 9;
        m.state[pfn + 512] = FRAME_BUDDY;
        m.order[pfn + 512] = 9;
        m.freeHead[11 + 9] = pfn;
        m.next[pfn] = pfn + 512;
        m.prev[pfn + 512] = pfn;
        m.freeTail[11 + 9] = pfn + 512;
        m.nrFree[11 + 9] = 2;
      },
      /free buddies 2048 and 2560 of order 9 were not merged/,
    ],
    [
      'a negative refcount',
      (mem) => {
        const f = folioAlloc(mem, 0, 0);
        memmapOf(mem).refcount[f] = -1;
      },
      /negative refcount/,
    ],
    [
      'a negative mapcount',
      (mem) => {
        const f = folioAlloc(mem, 1, 0);
        const m = memmapOf(mem);
        m.mapcount[f + 1] = -1;
        m.totalMapcount[f] = -1;
      },
      /negative mapcount/,
    ],
    [
      'a tail pointing at the wrong head',
      (mem) => {
        const f = folioAlloc(mem, 2, 0);
        memmapOf(mem).headOf[f + 2] = f + 1;
      },
      /should be a tail of folio/,
    ],
    [
      'a mapcount sum out of step',
      (mem) => {
        const f = folioAlloc(mem, 2, 0);
        memmapOf(mem).mapcount[f + 3] = 2;
      },
      /kept mapcount sum 0 but pages sum to 2/,
    ],
    [
      'a hugetlb counter out of step',
      (mem) => {
        memmapOf(mem).freeHugePages[0]!++;
      },
      /free_huge_pages 2 but 1 free/,
    ],
    [
      'a free frame that is not clean',
      (mem) => {
        const m = memmapOf(mem);
        const pfn = m.freeHead[11 + 10]!;
        m.flags[pfn + 3] = 1;
      },
      /is not clean/,
    ],
    [
      'a free frame outside any block',
      (mem) => {
        const f = folioAlloc(mem, 0, 1);
        memmapOf(mem).state[f] = FRAME_FREE;
      },
      /free but in no buddy block/,
    ],
    [
      'a broken folio list link',
      (mem) => {
        const list = new FolioList(mem);
        const a = folioAlloc(mem, 0, 0);
        const b = folioAlloc(mem, 0, 0);
        list.addTail(a);
        list.addTail(b);
        memmapOf(mem).prev[b] = -1;
      },
      /folio list link broken|no prev but is not its list's first/,
    ],
    [
      'a temporary mark on a free pool page',
      (mem) => {
        const m = memmapOf(mem);
        hugeTemporaryArray(m)[m.hugeFreeHead[0]!] = 1;
      },
      /is marked temporary but is not a hugetlb folio in use/,
    ],
    [
      'a negative surplus count',
      (mem) => {
        memmapOf(mem).surplusHugePages[1]!--;
      },
      /node 1: surplus_huge_pages -1 is negative/,
    ],
    [
      'a written zero page',
      (mem) => {
        memmapOf(mem).content[0] = 3;
      },
      /zero page 0 has content 3/,
    ],
  ];

  for (const [name, corrupt, problem] of corruptions) {
    test(`finds ${name}`, () => {
      const mem = machine();
      corrupt(mem);
      const problems = checkPhysicalMemory(mem);
      expect(problems.join('\n')).toMatch(problem);
      let err: unknown;
      try {
        assertPhysicalMemory(mem);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MmsimError);
      expect((err as MmsimError).code).toBe('INVARIANT_VIOLATED');
    });
  }
});

describe('checkPhysicalMemory on nodes with holes between them', () => {
  // Node 0 spans pfns 0..63, node 1 starts at the next MAX_ORDER boundary (1024): 960 holes.
  function holed(): PhysicalMemory {
    return createPhysicalMemory({ nodes: [{ pages: 64 }, { pages: 64 }] });
  }

  test('a sound machine with holes has no problems', () => {
    const mem = holed();
    const list = new FolioList(mem);
    list.addTail(folioAlloc(mem, 0, 1));
    list.addTail(folioAlloc(mem, 0, 1));
    expect(checkPhysicalMemory(mem)).toEqual([]);
  });

  test('finds a frame between nodes that names a folio list', () => {
    const mem = holed();
    const list = new FolioList(mem);
    const f = folioAlloc(mem, 0, 0);
    list.addTail(f);
    const m = memmapOf(mem);
    m.listId[500] = m.listId[f]!;
    expect(checkPhysicalMemory(mem).join('\n')).toMatch(/pfn 500 between nodes names folio list/);
  });

  test('finds a frame between nodes that is not a hole', () => {
    const mem = holed();
    memmapOf(mem).state[700] = FRAME_HEAD;
    expect(checkPhysicalMemory(mem).join('\n')).toMatch(/pfn 700 between nodes is not a hole/);
  });

  test('finds a broken folio list on the node after the holes', () => {
    const mem = holed();
    const list = new FolioList(mem);
    const a = folioAlloc(mem, 0, 1);
    const b = folioAlloc(mem, 0, 1);
    expect(a).toBeGreaterThanOrEqual(1024);
    list.addTail(a);
    list.addTail(b);
    memmapOf(mem).prev[b] = -1;
    expect(checkPhysicalMemory(mem).join('\n')).toMatch(
      /folio list link broken|no prev but is not its list's first/,
    );
  });

  test('finds a free block on the wrong lists on the node after the holes', () => {
    const mem = holed();
    const m = memmapOf(mem);
    const pfn = m.freeHead[1 * 11 + 6]!; // node 1's order-6 block (its 64 pages)
    expect(pfn).toBe(1024);
    m.freeKind[pfn] = 2; // FREE_KIND_ISOLATE, but the pageblock is ordinary
    expect(checkPhysicalMemory(mem).join('\n')).toMatch(/free block 1024 .* isolate lists/);
  });
});
