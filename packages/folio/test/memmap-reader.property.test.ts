import { MmsimError } from '@mmsim/runtime';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  FOLIO_TYPE_HUGETLB,
  type Folio,
  FRAME_HEAD,
  folioAlloc,
  folioEntireMapcount,
  folioEntireMapcountInc,
  folioFlags,
  folioIndex,
  folioMapcount,
  folioMapped,
  folioMappingKind,
  folioNid,
  folioOrder,
  folioPut,
  folioRawMapping,
  folioRefAdd,
  folioRefCount,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioTestHugetlb,
  type MappingKind,
  type MemmapReader,
  memmapReader,
  PG_anon_exclusive,
  PG_dirty,
  PG_locked,
  type PhysicalMemory,
  pageMapcount,
  pageMapcountInc,
  pageSetFlag,
  pageTestFlag,
  pfnFolio,
  pfnToNid,
  pfnValid,
  readerFolioMapcount,
  readerFolioMapped,
  readerIsFolio,
  readerMapping,
  splitFolio,
} from '../src/index.js';

/** One change to the memory map, made through the package's checked functions. */
type Op =
  | { kind: 'alloc'; order: number; nid: number }
  | { kind: 'free'; pick: number }
  | { kind: 'index'; pick: number; index: number }
  | { kind: 'mapping'; pick: number; mkind: MappingKind; obj: number }
  | { kind: 'flag'; pick: number; flag: number; page: number }
  | { kind: 'ref'; pick: number; nr: number }
  | { kind: 'map'; pick: number; page: number; pmd: boolean }
  | { kind: 'split'; pick: number };

/** Indices around the boundaries where V8 stops keeping a number unboxed (2^30, 2^31, 2^32). */
const indexArb = fc.oneof(
  fc.nat({ max: 1 << 20 }),
  fc.integer({ min: 2 ** 30 - 4, max: 2 ** 30 + 4 }),
  fc.integer({ min: 2 ** 31 - 4, max: 2 ** 31 + 4 }),
  fc.integer({ min: 2 ** 32 - 4, max: 2 ** 32 + 4 }),
  fc.integer({ min: 2 ** 47, max: Number.MAX_SAFE_INTEGER }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      order: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4 }), fc.constant(9)),
      nid: fc.integer({ min: 0, max: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('index' as const), pick: fc.nat(), index: indexArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('mapping' as const),
      pick: fc.nat(),
      mkind: fc.constantFrom<MappingKind>(0, 1, 2, 3),
      obj: fc.integer({ min: 0, max: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('flag' as const),
      pick: fc.nat(),
      flag: fc.constantFrom(PG_locked, PG_dirty, PG_anon_exclusive),
      page: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('ref' as const),
      pick: fc.nat(),
      nr: fc.integer({ min: 1, max: 1100 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('map' as const),
      pick: fc.nat(),
      page: fc.nat(),
      pmd: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('split' as const), pick: fc.nat() }) },
);

/** Applies `ops` to a fresh two-node machine (with a hugetlb pool folio on node 0). */
function build(ops: readonly Op[]): { mem: PhysicalMemory; live: Folio[] } {
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024, hugetlbPages: 1 }, { pages: 512 }] });
  const objects = [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }];
  const live: Folio[] = [];
  for (const op of ops) {
    if (op.kind === 'alloc') {
      const f = folioAlloc(mem, op.order, op.nid);
      if (f >= 0) live.push(f);
      continue;
    }
    if (live.length === 0) continue;
    const i = op.pick % live.length;
    const f = live[i]!;
    const nr = 1 << folioOrder(mem, f);
    switch (op.kind) {
      case 'free':
        // The last put of a mapped or flagged folio is a bad page state: it throws.
        try {
          folioPut(mem, f);
        } catch (e) {
          if (!(e instanceof MmsimError)) throw e;
        }
        if (throwsMmsim(() => folioOrder(mem, f))) live.splice(i, 1);
        break;
      case 'index':
        folioSetIndex(mem, f, op.index);
        break;
      case 'mapping':
        folioSetMapping(mem, f, op.mkind, op.mkind === 0 && op.obj === 0 ? null : objects[op.obj]!);
        break;
      case 'flag':
        if (op.flag === PG_anon_exclusive) pageSetFlag(mem, f + (op.page % nr), op.flag);
        else folioSetFlag(mem, f, op.flag);
        break;
      case 'ref':
        folioRefAdd(mem, f, op.nr);
        break;
      case 'map':
        if (op.pmd && nr > 1) folioEntireMapcountInc(mem, f);
        else pageMapcountInc(mem, f + (op.page % nr));
        break;
      case 'split':
        // A split needs the folio lock and no mapping: a refused one throws and changes nothing.
        if (nr > 1) {
          folioSetFlag(mem, f, PG_locked);
          try {
            splitFolio(mem, f);
          } catch (e) {
            if (!(e instanceof MmsimError)) throw e;
          }
          for (let p = 1; p < nr; p++)
            if (!throwsMmsim(() => folioOrder(mem, f + p))) live.push(f + p);
        }
        break;
    }
  }
  return { mem, live };
}

function throwsMmsim(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (e instanceof MmsimError) return true;
    throw e;
  }
}

/**
 * Every field of the reader agrees with the checked accessor, frame by frame; returns the
 * disagreements (none expected).
 */
function disagreements(mem: PhysicalMemory): string[] {
  const r = memmapReader(mem);
  const bad: string[] = [];
  const same = (what: string, pfn: number, got: unknown, want: unknown): void => {
    if (!Object.is(got, want))
      bad.push(`${what} of ${pfn}: reader ${String(got)}, accessor ${String(want)}`);
  };
  same('maxPfn', -1, r.maxPfn, mem.maxPfn);
  same('nrNodes', -1, r.nrNodes, mem.nrNodes);
  same('zeroPfn', -1, r.zeroPfn, mem.zeroPfn);
  for (let pfn = 0; pfn < r.maxPfn; pfn++) {
    const head = readerIsFolio(r, pfn);
    same('FRAME_HEAD', pfn, head, r.state[pfn] === FRAME_HEAD);
    const page = pfnValid(mem, pfn) ? pfnFolio(mem, pfn) : -1;
    // The accessors throw exactly where the reader says there is no live folio (checked on
    // every page of a folio and every 16th other frame: an error is slow to build).
    if (head || page >= 0 || pfn % 16 === 0) {
      same(
        'no folio',
        pfn,
        throwsMmsim(() => folioOrder(mem, pfn)),
        !head,
      );
    }
    if (!pfnValid(mem, pfn)) continue;
    same('nid', pfn, r.nid[pfn], pfnToNid(mem, pfn));
    if (page >= 0) {
      same('headOf', pfn, r.headOf[pfn], page);
      same(
        'page mapcount',
        pfn,
        r.mapcount[pfn]! + r.entireMapcount[page]!,
        pageMapcount(mem, pfn),
      );
      const anonExclusive = (r.flags[pfn]! & (1 << PG_anon_exclusive)) !== 0;
      same('PageAnonExclusive', pfn, anonExclusive, pageTestFlag(mem, pfn, PG_anon_exclusive));
    }
    if (!head) continue;
    same('index', pfn, r.index[pfn], folioIndex(mem, pfn));
    same('order', pfn, r.order[pfn], folioOrder(mem, pfn));
    same('refcount', pfn, r.refcount[pfn], folioRefCount(mem, pfn));
    same('flags', pfn, r.flags[pfn], folioFlags(mem, pfn));
    same('mapping kind', pfn, r.mappingKind[pfn], folioMappingKind(mem, pfn));
    same('mapping', pfn, readerMapping(r, pfn), folioRawMapping(mem, pfn));
    same('entire mapcount', pfn, r.entireMapcount[pfn], folioEntireMapcount(mem, pfn));
    same('folio mapcount', pfn, readerFolioMapcount(r, pfn), folioMapcount(mem, pfn));
    same('folio mapped', pfn, readerFolioMapped(r, pfn), folioMapped(mem, pfn));
    same('folio nid', pfn, r.nid[pfn], folioNid(mem, pfn));
    same('hugetlb', pfn, r.folioType[pfn] === FOLIO_TYPE_HUGETLB, folioTestHugetlb(mem, pfn));
  }
  return bad;
}

describe('memmapReader', () => {
  test('on random memory maps, every read agrees with the checked accessors', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        expect(disagreements(build(ops).mem)).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  test('indices above 2^30, 2^31 and 2^32 read back exactly, as doubles', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const r = memmapReader(mem);
    const f = folioAlloc(mem, 0, 0);
    for (const index of [
      2 ** 30,
      2 ** 30 + 1,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 31 + 7,
      2 ** 32 + 1,
      2 ** 52 + 3,
    ]) {
      folioSetIndex(mem, f, index);
      expect(r.index[f]).toBe(index);
      expect(r.index[f]).toBe(folioIndex(mem, f));
    }
  });

  test('is the same live view for the life of the machine', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const r = memmapReader(mem);
    expect(memmapReader(mem)).toBe(r);
    const f = folioAlloc(mem, 2, 0);
    // Written through the checked functions after the reader was taken: the reader sees it.
    expect(readerIsFolio(r, f)).toBe(true);
    folioSetFlag(mem, f, PG_dirty);
    expect((r.flags[f]! & (1 << PG_dirty)) !== 0).toBe(true);
    const anonVma = {};
    folioSetMapping(mem, f, 1, anonVma);
    expect(readerMapping(r, f)).toBe(anonVma);
    folioPut(mem, f);
    expect(readerIsFolio(r, f)).toBe(false);
    // Outside the memory map: no folio (never an exception).
    expect(readerIsFolio(r, -1)).toBe(false);
    expect(readerIsFolio(r, r.maxPfn)).toBe(false);
  });
});

/**
 * Checked by the typecheck only (never called): a reader's arrays take no writes and have
 * no mutating methods; if they did, the `@ts-expect-error` lines would fail the typecheck.
 */
export function readerIsReadOnlyByType(r: MemmapReader): void {
  // @ts-expect-error: no index writes.
  r.refcount[0] = 1;
  // @ts-expect-error: no mutating methods.
  r.flags.fill(0);
}
