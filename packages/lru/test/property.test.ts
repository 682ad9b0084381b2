import {
  type Folio,
  folioClearFlag,
  folioNid,
  folioNrPages,
  folioRefCount,
  folioSetFlag,
  folioTestFlag,
  PG_active,
  PG_lru,
  PG_mlocked,
  PG_swapbacked,
  PG_unevictable,
} from '@mmsim/folio';
import { NodeStat } from '@mmsim/runtime';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import {
  LRU_ACTIVE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_UNEVICTABLE,
  PAGEVEC_SIZE,
} from '../src/index.js';
import {
  anonFolio,
  fileFolio,
  createLruMachine as machine,
  onCpu,
  shmemFolio,
} from '../src/testing/index.js';

type Kind = 'anon' | 'file' | 'shmem';
interface FolioSpec {
  readonly nid: number;
  readonly order: number;
  readonly kind: Kind;
  readonly active: boolean;
  readonly mlocked: boolean;
}

type Op =
  | { op: 'add' | 'isolate' | 'putback'; pick: number; cpu: number }
  | { op: 'drain' | 'drainAll' | 'disable'; cpu: number }
  | { op: 'enable' }
  | { op: 'flag'; pick: number; flag: 'active' | 'mlocked' | 'swapbacked' };

const NODES = 3;
const CPU_NODES = [0, 0, 1, 2];
const CPUS = CPU_NODES.length;

const specArb: fc.Arbitrary<FolioSpec> = fc.record({
  nid: fc.integer({ min: 0, max: NODES - 1 }),
  order: fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) },
    { weight: 1, arbitrary: fc.constant(9) },
  ),
  kind: fc.constantFrom<Kind>('anon', 'file', 'shmem'),
  active: fc.boolean(),
  mlocked: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
});

const cpuArb = fc.integer({ min: 0, max: CPUS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('add' as const), pick: fc.nat(), cpu: cpuArb }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('isolate' as const), pick: fc.nat(), cpu: cpuArb }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('putback' as const), pick: fc.nat(), cpu: cpuArb }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('drain' as const), cpu: cpuArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drainAll' as const), cpu: cpuArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('disable' as const), cpu: cpuArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('enable' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('flag' as const),
      pick: fc.nat(),
      flag: fc.constantFrom('active' as const, 'mlocked' as const, 'swapbacked' as const),
    }),
  },
);

const FLAG = { active: PG_active, mlocked: PG_mlocked, swapbacked: PG_swapbacked } as const;

type Where = 'off' | 'batch' | 'lru' | 'isolated';

test('random add / isolate / putback / drain / drainAll / disable / enable keep the LRU sound', () => {
  fc.assert(
    fc.property(
      fc.array(specArb, { minLength: 1, maxLength: 24 }),
      fc.array(opArb, { minLength: 1, maxLength: 80 }),
      (specs, ops) => {
        const m = machine({
          // Room for every folio on one node, THPs included (24 x 512 pages).
          nodes: Array.from({ length: NODES }, () => 16384),
          cpuNodes: CPU_NODES,
        });
        const { lru, mem, rt, vmstat } = m;
        // PG_mlocked with its nr_mlock pages, as mlock_folio / __munlock_folio change both.
        const setMlocked = (f: Folio, on: boolean): void => {
          if (on) folioSetFlag(mem, f, PG_mlocked);
          else folioClearFlag(mem, f, PG_mlocked);
          vmstat.modNodePageState(
            folioNid(mem, f),
            NodeStat.NR_MLOCK,
            (on ? 1 : -1) * folioNrPages(mem, f),
          );
        };
        const folios: Folio[] = specs.map((s) => {
          const f =
            s.kind === 'anon'
              ? anonFolio(mem, s.nid, s.order)
              : s.kind === 'file'
                ? fileFolio(mem, s.nid, s.order)
                : shmemFolio(mem, s.nid, s.order);
          if (s.active) folioSetFlag(mem, f, PG_active);
          if (s.mlocked) setMlocked(f, true);
          return f;
        });
        const startRefs = folios.map((f) => folioRefCount(mem, f));

        // The model: where each folio is, each CPU's batch in order, the list each folio
        // should be on, the NR_ISOLATED item its isolator charged, the disable count.
        const where = new Map<Folio, Where>(folios.map((f) => [f, 'off']));
        const batches: Folio[][] = Array.from({ length: CPUS }, () => []);
        const expectedLru = new Map<Folio, number>();
        const charged = new Map<Folio, number>();
        let disabled = 0;

        const moveBatch = (cpu: number): void => {
          for (const f of batches[cpu] as Folio[]) {
            where.set(f, 'lru');
            // lru_add_fn: an mlocked folio goes unevictable (and loses PG_active); any other
            // is evictable, whatever PG_unevictable it had, on the anon lists when swap-backed.
            const base = folioTestFlag(mem, f, PG_swapbacked)
              ? LRU_INACTIVE_ANON
              : LRU_INACTIVE_FILE;
            expectedLru.set(
              f,
              folioTestFlag(mem, f, PG_mlocked)
                ? LRU_UNEVICTABLE
                : base + (folioTestFlag(mem, f, PG_active) ? LRU_ACTIVE : 0),
            );
          }
          batches[cpu] = [];
        };
        const queue = (f: Folio, cpu: number): void => {
          where.set(f, 'batch');
          const b = batches[cpu] as Folio[];
          b.push(f);
          if (b.length === PAGEVEC_SIZE || folioNrPages(mem, f) > 1 || disabled > 0) moveBatch(cpu);
        };

        const verify = (scanMemory = false): void => {
          // The per-folio checks below cover PG_lru on every folio the test made, so the
          // walk over all of memory is left for the end.
          expect(lru.view.check({ scanMemory })).toEqual([]);
          for (let cpu = 0; cpu < CPUS; cpu++) {
            expect(lru.view.batchFolios(cpu)).toEqual(batches[cpu]);
          }
          expect(lru.view.lruDisableCount).toBe(disabled);
          const isolated = Array.from({ length: NODES }, () => [0, 0]);
          folios.forEach((f, i) => {
            const w = where.get(f);
            expect(folioTestFlag(mem, f, PG_lru)).toBe(w === 'lru');
            expect(lru.view.inBatch(f)).toBe(w === 'batch');
            const at = lru.view.folioLru(f);
            if (w === 'lru') {
              expect(at).toEqual({ nid: specs[i]?.nid, lru: expectedLru.get(f) });
              if (at?.lru === LRU_UNEVICTABLE) expect(folioTestFlag(mem, f, PG_active)).toBe(false);
              else expect(folioTestFlag(mem, f, PG_unevictable)).toBe(false);
            } else {
              expect(at).toBeNull();
            }
            const extra = w === 'batch' || w === 'isolated' ? 1 : 0;
            expect(folioRefCount(mem, f)).toBe((startRefs[i] as number) + extra);
            if (w === 'isolated') {
              const row = isolated[specs[i]?.nid as number] as number[];
              const item = charged.get(f) as number;
              row[item - NodeStat.NR_ISOLATED_ANON] =
                (row[item - NodeStat.NR_ISOLATED_ANON] as number) + folioNrPages(mem, f);
            }
          });
          for (let nid = 0; nid < NODES; nid++) {
            expect(vmstat.nodePageState(nid, NodeStat.NR_ISOLATED_ANON)).toBe(isolated[nid]?.[0]);
            expect(vmstat.nodePageState(nid, NodeStat.NR_ISOLATED_FILE)).toBe(isolated[nid]?.[1]);
          }
        };

        rt.spawn('driver', 0, function* () {
          for (const op of ops) {
            if (op.op === 'add') {
              const f = folios[op.pick % folios.length] as Folio;
              if (where.get(f) !== 'off') continue;
              yield* onCpu(rt, op.cpu, () => lru.folioAddLru(f));
              queue(f, op.cpu);
            } else if (op.op === 'isolate') {
              const f = folios[op.pick % folios.length] as Folio;
              const won = yield* onCpu(rt, op.cpu, () => lru.folioIsolateLru(f));
              expect(won).toBe(where.get(f) === 'lru');
              if (won) {
                // The caller accounts NR_ISOLATED, as the migration callers do.
                const item = lru.folioIsolatedItem(f);
                lru.nodeStatModFolio(f, item, folioNrPages(mem, f));
                charged.set(f, item);
                where.set(f, 'isolated');
              }
            } else if (op.op === 'putback') {
              const f = folios[op.pick % folios.length] as Folio;
              if (where.get(f) !== 'isolated') continue;
              lru.nodeStatModFolio(f, charged.get(f) as number, -folioNrPages(mem, f));
              charged.delete(f);
              yield* onCpu(rt, op.cpu, () => lru.folioPutbackLru(f));
              queue(f, op.cpu);
            } else if (op.op === 'drain') {
              yield* onCpu(rt, op.cpu, () => lru.lruAddDrain());
              moveBatch(op.cpu);
            } else if (op.op === 'drainAll') {
              yield* onCpu(rt, op.cpu, () => lru.lruAddDrainAll());
              for (let cpu = 0; cpu < CPUS; cpu++) moveBatch(cpu);
            } else if (op.op === 'disable') {
              yield* onCpu(rt, op.cpu, () => lru.lruCacheDisable());
              disabled++;
              for (let cpu = 0; cpu < CPUS; cpu++) moveBatch(cpu);
            } else if (op.op === 'enable') {
              if (disabled === 0) continue;
              lru.lruCacheEnable();
              disabled--;
            } else if (op.op === 'flag') {
              // Flags change only while the folio is off the LRU and out of the batches.
              const f = folios[op.pick % folios.length] as Folio;
              const w = where.get(f);
              if (w !== 'off' && w !== 'isolated') continue;
              const bit = FLAG[op.flag];
              if (bit === PG_active && folioTestFlag(mem, f, PG_unevictable)) continue;
              if (bit === PG_mlocked) setMlocked(f, !folioTestFlag(mem, f, bit));
              else if (folioTestFlag(mem, f, bit)) folioClearFlag(mem, f, bit);
              else folioSetFlag(mem, f, bit);
            }
            verify();
          }

          // Put everything back and let the cache work again: nothing stays isolated.
          for (const f of folios) {
            if (where.get(f) !== 'isolated') continue;
            lru.nodeStatModFolio(f, charged.get(f) as number, -folioNrPages(mem, f));
            charged.delete(f);
            yield* onCpu(rt, 1, () => lru.folioPutbackLru(f));
            queue(f, 1);
          }
          while (disabled > 0) {
            lru.lruCacheEnable();
            disabled--;
          }
          yield* onCpu(rt, 3, () => lru.lruAddDrainAll());
          for (let cpu = 0; cpu < CPUS; cpu++) moveBatch(cpu);
          verify(true);
          for (let nid = 0; nid < NODES; nid++) {
            expect(vmstat.nodePageState(nid, NodeStat.NR_ISOLATED_ANON)).toBe(0);
            expect(vmstat.nodePageState(nid, NodeStat.NR_ISOLATED_FILE)).toBe(0);
          }
          folios.forEach((f, i) => {
            expect(folioRefCount(mem, f)).toBe(startRefs[i]);
          });
        });
        expect(rt.run().status).toBe('completed');
      },
    ),
    { numRuns: 150 },
  );
});
