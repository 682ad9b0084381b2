import { type Folio, folioNrPages } from '@mmsim/folio';
import { MmsimError, NodeStat } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { folioIsolatedItem, nodeStatModFolio } from '../src/index.js';
import {
  anonFolio,
  fileFolio,
  createLruMachine as machine,
  onCpu,
  runScript,
  shmemFolio,
} from '../src/testing/index.js';

const ANON = NodeStat.NR_ISOLATED_ANON;
const FILE = NodeStat.NR_ISOLATED_FILE;

describe('NR_ISOLATED accounting', () => {
  test('the item is NR_ISOLATED_ANON + folio_is_file_lru: shmem counts as anon', () => {
    const m = machine();
    const { mem, lru } = m;
    expect(FILE).toBe(ANON + 1);
    expect(lru.folioIsolatedItem(anonFolio(mem, 0))).toBe(ANON);
    expect(lru.folioIsolatedItem(shmemFolio(mem, 0))).toBe(ANON);
    expect(lru.folioIsolatedItem(fileFolio(mem, 0))).toBe(FILE);
    expect(folioIsolatedItem(mem, fileFolio(mem, 1))).toBe(FILE);
  });

  test('the isolating caller counts base pages per node, and putback by the caller returns them to 0', () => {
    const m = machine();
    const { mem, lru, rt, vmstat } = m;
    const anonThp = anonFolio(mem, 1, 9);
    const shmem = shmemFolio(mem, 1, 2);
    const file = fileFolio(mem, 0, 3);
    const small = fileFolio(mem, 1);
    const all = [anonThp, shmem, file, small];
    const isolated: Folio[] = [];
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        for (const f of all) yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      // The caller of folio_isolate_lru accounts, as add_page_for_migration does.
      yield* onCpu(rt, 1, function* () {
        for (const f of all) {
          if (yield* lru.folioIsolateLru(f)) {
            isolated.push(f);
            lru.nodeStatModFolio(f, lru.folioIsolatedItem(f), folioNrPages(mem, f));
          }
        }
      });
      expect(isolated).toEqual(all);
      expect(vmstat.nodePageState(1, ANON)).toBe(512 + 4);
      expect(vmstat.nodePageState(1, FILE)).toBe(1);
      expect(vmstat.nodePageState(0, ANON)).toBe(0);
      expect(vmstat.nodePageState(0, FILE)).toBe(8);
      // The migration core's putback: decrement, then folio_putback_lru.
      yield* onCpu(rt, 0, function* () {
        for (const f of isolated) {
          lru.nodeStatModFolio(f, lru.folioIsolatedItem(f), -folioNrPages(mem, f));
          yield* lru.folioPutbackLru(f);
        }
        yield* lru.lruAddDrain();
      });
      for (const nid of [0, 1]) {
        expect(vmstat.nodePageState(nid, ANON)).toBe(0);
        expect(vmstat.nodePageState(nid, FILE)).toBe(0);
      }
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('a failed isolation is not counted by a caller that follows the rule', () => {
    const m = machine();
    const { mem, lru, rt, vmstat } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f); // parked in the batch
        if (yield* lru.folioIsolateLru(f)) lru.nodeStatModFolio(f, ANON, 1);
      });
      expect(vmstat.nodePageState(0, ANON)).toBe(0);
    });
  });

  test('nodeStatModFolio rejects a bad item or count and changes nothing', () => {
    const m = machine();
    const f = anonFolio(m.mem, 0);
    const before = m.vmstat.entries();
    for (const [item, nr] of [
      [99, 1],
      [-1, 1],
      [1.5, 1],
      [ANON, 0.5],
      [ANON, Number.NaN],
    ] as const) {
      expect(() => nodeStatModFolio(m.mem, m.vmstat, f, item, nr)).toThrow(MmsimError);
      expect(() => m.lru.nodeStatModFolio(f, item, nr)).toThrow(MmsimError);
    }
    expect(m.vmstat.entries()).toEqual(before);
  });
});
