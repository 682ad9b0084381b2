import fc from 'fast-check';
import { expect, test } from 'vitest';
import {
  checkPhysicalMemory,
  createPhysicalMemory,
  folioAlloc,
  folioNid,
  folioNrPages,
  folioPut,
  hugetlbNrHugePages,
  MAX_ORDER,
  nodeNrFree as nodeFreeBlocks,
  nodeFreePages,
  nodeSpannedPages,
  pageContent,
  pfnFolio,
  setPageContent,
} from '../src/index.js';
import { nodeFreeList } from '../src/internal.js';

type Op =
  | { kind: 'alloc'; order: number; nid: number; thisNode: boolean }
  | { kind: 'free'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      // Small orders most of the time, so that memory fragments and merges.
      order: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) },
        { weight: 1, arbitrary: fc.integer({ min: 4, max: MAX_ORDER - 1 }) },
      ),
      nid: fc.integer({ min: 0, max: 2 }),
      thisNode: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
  },
);

test('random allocation and freeing never loses or duplicates a frame', () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 1, maxLength: 120 }),
      fc.constantFrom(
        [{ pages: 2048 }, { pages: 1500 }, { pages: 3000 }],
        [{ pages: 1100, hugetlbPages: 1 }, { pages: 700 }, { pages: 1024 }],
      ),
      (ops, nodes) => {
        const mem = createPhysicalMemory({ nodes });
        const spanned = [0, 1, 2].map((nid) => nodeSpannedPages(mem, nid));
        const reserved = [0, 1, 2].map(
          (nid) => hugetlbNrHugePages(mem, nid) * 512 + (nid === 0 ? 1 : 0),
        );
        const blocks = (): number[][][] =>
          [0, 1, 2].map((nid) =>
            Array.from({ length: MAX_ORDER }, (_, o) =>
              nodeFreeList(mem, nid, o).sort((a, b) => a - b),
            ),
          );
        const boot = blocks();
        const live: number[] = [];
        let stamp = 1;
        for (const op of ops) {
          if (op.kind === 'alloc') {
            const folio = folioAlloc(mem, op.order, op.nid, { thisNode: op.thisNode });
            if (folio >= 0) {
              if (op.thisNode) expect(folioNid(mem, folio)).toBe(op.nid);
              // Stamp every page so that a frame handed out twice would be noticed.
              for (let p = folio; p < folio + (1 << op.order); p++) setPageContent(mem, p, stamp);
              stamp++;
              live.push(folio);
            } else if (op.thisNode) {
              // Nothing of that order may be free on the node.
              let fits = false;
              for (let o = op.order; o < MAX_ORDER; o++)
                if (nodeFreeBlocks(mem, op.nid, o) > 0) fits = true;
              expect(fits).toBe(false);
            }
          } else if (live.length > 0) {
            const i = op.pick % live.length;
            const folio = live[i]!;
            live.splice(i, 1);
            folioPut(mem, folio);
          }
          expect(checkPhysicalMemory(mem)).toEqual([]);
          const used = [0, 0, 0];
          for (const folio of live) used[folioNid(mem, folio)]! += folioNrPages(mem, folio);
          for (let nid = 0; nid < 3; nid++) {
            expect(nodeFreePages(mem, nid) + used[nid]! + reserved[nid]!).toBe(spanned[nid]);
          }
        }
        // Every page of every live folio still maps to its folio and kept its own stamp.
        const stamps = new Set<number>();
        for (const folio of live) {
          const word = pageContent(mem, folio);
          expect(stamps.has(word)).toBe(false);
          stamps.add(word);
          for (let p = folio; p < folio + folioNrPages(mem, folio); p++) {
            expect(pfnFolio(mem, p)).toBe(folio);
            expect(pageContent(mem, p)).toBe(word);
          }
        }
        for (const folio of live) folioPut(mem, folio);
        for (let nid = 0; nid < 3; nid++)
          expect(nodeFreePages(mem, nid)).toBe(spanned[nid]! - reserved[nid]!);
        // Everything merged back: the same blocks as at boot (list order may differ).
        expect(blocks()).toEqual(boot);
        expect(checkPhysicalMemory(mem)).toEqual([]);
      },
    ),
    { numRuns: 150 },
  );
});
