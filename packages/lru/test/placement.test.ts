import {
  folioClearFlag,
  folioSetFlag,
  folioTestFlag,
  PG_active,
  PG_mlocked,
  PG_swapbacked,
  PG_unevictable,
} from '@mmsim/folio';
import { NodeStat } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  folioLruList,
  LRU_ACTIVE_ANON,
  LRU_ACTIVE_FILE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_LIST_NAMES,
  LRU_UNEVICTABLE,
  lruListName,
  NR_LRU_LISTS,
} from '../src/index.js';
import {
  anonFolio,
  fileFolio,
  createLruMachine as machine,
  onCpu,
  runScript,
  shmemFolio,
} from '../src/testing/index.js';

describe('which list a folio goes to (lru_add_fn, folio_lru_list)', () => {
  test('the lists have the kernel enum order and names', () => {
    expect([
      LRU_INACTIVE_ANON,
      LRU_ACTIVE_ANON,
      LRU_INACTIVE_FILE,
      LRU_ACTIVE_FILE,
      LRU_UNEVICTABLE,
    ]).toEqual([0, 1, 2, 3, 4]);
    expect(NR_LRU_LISTS).toBe(5);
    expect(LRU_LIST_NAMES).toEqual([
      'inactive_anon',
      'active_anon',
      'inactive_file',
      'active_file',
      'unevictable',
    ]);
    expect(lruListName(LRU_ACTIVE_FILE)).toBe('active_file');
    // Their sizes are the node items nr_inactive_anon .. nr_unevictable, in the same order.
    expect(NodeStat.NR_UNEVICTABLE - NodeStat.NR_INACTIVE_ANON).toBe(LRU_UNEVICTABLE);
  });

  test('anon, file and shmem, inactive and active, each on its own list and counter', () => {
    const m = machine();
    const { lru, mem, rt, vmstat } = m;
    const anon = anonFolio(mem, 0);
    const activeAnon = anonFolio(mem, 0, 1);
    const file = fileFolio(mem, 0, 2);
    const activeFile = fileFolio(mem, 0);
    const shmem = shmemFolio(mem, 0);
    folioSetFlag(mem, activeAnon, PG_active);
    folioSetFlag(mem, activeFile, PG_active);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        for (const f of [anon, activeAnon, file, activeFile, shmem]) yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      const v = lru.view;
      // shmem is swap-backed, so it lives on the anon lists.
      expect(v.listFolios(0, LRU_INACTIVE_ANON)).toEqual([shmem, anon]);
      expect(v.listFolios(0, LRU_ACTIVE_ANON)).toEqual([activeAnon]);
      expect(v.listFolios(0, LRU_INACTIVE_FILE)).toEqual([file]);
      expect(v.listFolios(0, LRU_ACTIVE_FILE)).toEqual([activeFile]);
      expect(v.listFolios(0, LRU_UNEVICTABLE)).toEqual([]);
      const pages = [2, 2, 4, 1, 0];
      for (let l = 0; l < NR_LRU_LISTS; l++) {
        expect(v.listPages(0, l)).toBe(pages[l]);
        expect(vmstat.nodePageState(0, NodeStat.NR_INACTIVE_ANON + l)).toBe(pages[l]);
        expect(vmstat.nodePageState(1, NodeStat.NR_INACTIVE_ANON + l)).toBe(0);
      }
      expect(lru.folioIsFileLru(shmem)).toBe(0);
      expect(lru.folioIsFileLru(file)).toBe(1);
      expect(folioLruList(mem, activeFile)).toBe(LRU_ACTIVE_FILE);
      expect(v.check()).toEqual([]);
    });
  });

  test('an mlocked folio goes to LRU_UNEVICTABLE with PG_active cleared', () => {
    const m = machine();
    const { lru, mem, rt, vmstat } = m;
    const f = anonFolio(mem, 1, 3);
    folioSetFlag(mem, f, PG_active);
    folioSetFlag(mem, f, PG_mlocked);
    expect(lru.folioEvictable(f)).toBe(false);
    runScript(m, function* () {
      yield* onCpu(rt, 1, function* () {
        yield* lru.folioAddLru(f); // large: straight to the list
      });
      expect(lru.view.folioLru(f)).toEqual({ nid: 1, lru: LRU_UNEVICTABLE });
      expect(folioTestFlag(mem, f, PG_unevictable)).toBe(true);
      expect(folioTestFlag(mem, f, PG_active)).toBe(false);
      expect(vmstat.nodePageState(1, NodeStat.NR_UNEVICTABLE)).toBe(8);
      expect(vmstat.nodePageState(1, NodeStat.NR_INACTIVE_ANON)).toBe(0);

      // Isolation leaves PG_unevictable; putback re-decides. Still mlocked: unevictable again.
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(f))).toBe(true);
      expect(folioTestFlag(mem, f, PG_unevictable)).toBe(true);
      yield* onCpu(rt, 0, () => lru.folioPutbackLru(f));
      expect(lru.view.folioLru(f)).toEqual({ nid: 1, lru: LRU_UNEVICTABLE });

      // Munlocked while isolated: putback rescues it to the evictable (inactive) list.
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(f))).toBe(true);
      folioClearFlag(mem, f, PG_mlocked);
      yield* onCpu(rt, 0, () => lru.folioPutbackLru(f));
      expect(lru.view.folioLru(f)).toEqual({ nid: 1, lru: LRU_INACTIVE_ANON });
      expect(folioTestFlag(mem, f, PG_unevictable)).toBe(false);
      expect(vmstat.nodePageState(1, NodeStat.NR_UNEVICTABLE)).toBe(0);
      expect(vmstat.nodePageState(1, NodeStat.NR_INACTIVE_ANON)).toBe(8);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('a folio of an unevictable mapping (AS_UNEVICTABLE) goes to LRU_UNEVICTABLE', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const ramfs = { name: 'ramfs inode' };
    lru.mappingSetUnevictable(ramfs);
    expect(lru.mappingUnevictable(ramfs)).toBe(true);
    const pinned = fileFolio(mem, 0, 0, ramfs);
    const other = fileFolio(mem, 0, 0, { name: 'ext4 inode' });
    const anon = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        for (const f of [pinned, other, anon]) yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      expect(lru.view.listFolios(0, LRU_UNEVICTABLE)).toEqual([pinned]);
      expect(lru.view.listFolios(0, LRU_INACTIVE_FILE)).toEqual([other]);
      expect(lru.view.listFolios(0, LRU_INACTIVE_ANON)).toEqual([anon]);
      // Cleared again (SHM_UNLOCK-like): the next putback makes it evictable.
      lru.mappingClearUnevictable(ramfs);
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(pinned))).toBe(true);
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioPutbackLru(pinned);
        yield* lru.lruAddDrain();
      });
      expect(lru.view.folioLru(pinned)).toEqual({ nid: 0, lru: LRU_INACTIVE_FILE });
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('a shmem folio that loses PG_swapbacked while isolated comes back on the file list', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = shmemFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
        expect(yield* lru.folioIsolateLru(f)).toBe(true);
        folioClearFlag(mem, f, PG_swapbacked);
        yield* lru.folioPutbackLru(f);
        yield* lru.lruAddDrain();
      });
      expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_INACTIVE_FILE });
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('the checker notices a flag changed behind the LRU, and isolation still unlinks correctly', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      folioSetFlag(mem, f, PG_active); // not through the LRU: a bug in the caller
      expect(lru.view.check().join('\n')).toMatch(/has the flags of active_anon/);
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(f))).toBe(true);
      expect(lru.view.listPages(0, LRU_INACTIVE_ANON)).toBe(0);
      expect(lru.view.listPages(0, LRU_ACTIVE_ANON)).toBe(0);
      expect(lru.view.check()).toEqual([]);
    });
  });
});
