import {
  type Folio,
  folioNrPages,
  folioOnList,
  folioRefCount,
  folioTestFlag,
  PG_lru,
} from '@mmsim/folio';
import { type KernelGen, NodeStat } from '@mmsim/runtime';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { anonFolio, fileFolio, createLruMachine as machine } from '../src/testing/index.js';

type Step = 'add' | 'isolate' | 'putback' | 'drain' | 'drainAll' | 'disable' | 'enable' | 'yield';
const stepArb = fc.constantFrom<Step>(
  'add',
  'add',
  'isolate',
  'isolate',
  'putback',
  'drain',
  'drainAll',
  'disable',
  'enable',
  'yield',
);

test('tasks on four CPUs racing add / isolate / putback / drains under random schedules stay sound', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.array(fc.array(fc.tuple(stepArb, fc.nat()), { maxLength: 25 }), {
        minLength: 4,
        maxLength: 4,
      }),
      (seed, programs) => {
        const m = machine({
          nodes: [4096, 4096],
          cpuNodes: [0, 0, 1, 1],
          strategy: 'random',
          seed,
        });
        const { lru, mem, rt, vmstat } = m;
        const folios: Folio[] = [];
        for (let i = 0; i < 12; i++) {
          const nid = i % 2;
          const order = i % 5 === 4 ? 2 : 0;
          folios.push(i % 3 === 0 ? fileFolio(mem, nid, order) : anonFolio(mem, nid, order));
        }
        const claimed = new Set<Folio>();

        programs.forEach((program, cpu) => {
          rt.spawn(`worker${cpu}`, cpu, function* (): KernelGen {
            const mine = new Set<Folio>();
            let disables = 0;
            for (const [step, pick] of program) {
              const f = folios[pick % folios.length] as Folio;
              if (step === 'add') {
                if (claimed.has(f)) continue;
                claimed.add(f);
                yield* lru.folioAddLru(f);
              } else if (step === 'isolate') {
                if (!claimed.has(f) || mine.has(f)) continue;
                if (yield* lru.folioIsolateLru(f)) {
                  expect(folioOnList(mem, f)).toBeNull();
                  expect(folioTestFlag(mem, f, PG_lru)).toBe(false);
                  lru.nodeStatModFolio(f, lru.folioIsolatedItem(f), folioNrPages(mem, f));
                  mine.add(f);
                }
              } else if (step === 'putback') {
                const g = [...mine][pick % Math.max(1, mine.size)];
                if (g === undefined) continue;
                mine.delete(g);
                lru.nodeStatModFolio(g, lru.folioIsolatedItem(g), -folioNrPages(mem, g));
                yield* lru.folioPutbackLru(g);
              } else if (step === 'drain') {
                yield* lru.lruAddDrain();
              } else if (step === 'drainAll') {
                yield* lru.lruAddDrainAll();
              } else if (step === 'disable') {
                yield* lru.lruCacheDisable();
                disables++;
              } else if (step === 'enable') {
                if (disables === 0) continue;
                lru.lruCacheEnable();
                disables--;
              } else {
                yield;
              }
              expect(lru.view.check({ scanMemory: false })).toEqual([]);
            }
            for (const g of mine) {
              lru.nodeStatModFolio(g, lru.folioIsolatedItem(g), -folioNrPages(mem, g));
              yield* lru.folioPutbackLru(g);
            }
            while (disables-- > 0) lru.lruCacheEnable();
            yield* lru.lruAddDrainAll();
          });
        });
        const result = rt.run();
        expect(result.status).toBe('completed');
        // Every worker ended with a drain_all, so everything added is on a list again.
        expect(lru.view.check()).toEqual([]);
        expect(lru.view.lruDisableCount).toBe(0);
        for (const f of folios) {
          expect(folioRefCount(mem, f)).toBe(1);
          expect(folioTestFlag(mem, f, PG_lru)).toBe(claimed.has(f));
        }
        for (const nid of [0, 1]) {
          expect(vmstat.nodePageState(nid, NodeStat.NR_ISOLATED_ANON)).toBe(0);
          expect(vmstat.nodePageState(nid, NodeStat.NR_ISOLATED_FILE)).toBe(0);
        }
      },
    ),
    { numRuns: 120 },
  );
});
