import { folioTestFlag, PG_locked, PG_uptodate, setPageContent } from '@mmsim/folio';
import {
  type Actor,
  filemapGetFolio,
  filemapLockFolio,
  folioMarkDirty,
  folioPutDeclared,
  folioUnlockPut,
  type Kernel,
  pageCacheLookup,
  pageCacheWord,
  populateFile,
  setPageCacheWord,
} from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import type { AddressSpaceView } from '@mmsim/rmap';
import { FP_MAPPING, type KernelGen, type Task } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { filemapReadWord, filemapWriteWordPlain } from '../src/actors/file-io.js';
import { cachedFolios, migrator, migratorStats, runScenario, type Scenario } from '../src/index.js';

/** `filemapWriteWord` as it was, every page-cache call a generator: the oracle. */
function* referenceWrite(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  value: number,
  writer: string,
): KernelGen<boolean> {
  const folio = yield* filemapLockFolio(k, file, index, 'grab_cache_page_write_begin', {});
  if (folio < 0) return false;
  setPageCacheWord(k, folio, index, value);
  k.shadow.wroteFile(file, index, value, writer);
  folioMarkDirty(k, folio);
  yield* folioUnlockPut(k, folio);
  return true;
}

/** `filemapReadWord` as it was: the oracle. */
function* referenceRead(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  reader: string,
): KernelGen<number | null> {
  const mem = k.mem;
  for (;;) {
    let folio = yield* filemapGetFolio(k, file, index);
    if (folio < 0) {
      folio = yield* filemapLockFolio(k, file, index, 'page_cache_sync_readahead', {});
      if (folio < 0) return null;
      yield* folioUnlockPut(k, folio);
      continue;
    }
    if (!folioTestFlag(mem, folio, PG_uptodate) && folioTestFlag(mem, folio, PG_locked)) {
      yield* k.locks.folioWaitLocked(folio, 'filemap_update_page');
    }
    k.rt.touchKernel(FP_MAPPING, file.id, false);
    if (pageCacheLookup(mem, file, index) !== folio) {
      yield* folioPutDeclared(k, folio);
      continue;
    }
    const value = pageCacheWord(k, folio, index);
    k.shadow.readFile(file, index, value, reader);
    yield;
    yield* folioPutDeclared(k, folio);
    return value;
  }
}

interface Outcome {
  readonly steps: number;
  readonly token: string;
  readonly clocks: readonly number[];
  readonly results: readonly (number | boolean | null)[];
  readonly violations: readonly string[];
  readonly readsChecked: number;
  readonly migrated: number;
  /** `verifyAll` after one cached word was overwritten behind the shadow's back. */
  readonly lost: readonly string[];
}

/**
 * Three tasks calling read(2) / write(2) on the same four pages of a file (so folio locks
 * are contended, and some pages are not cached yet and are read in) while two migrators
 * move its cached folios (frozen folios, folios replaced under a reader, last puts):
 * through the plain-call page-cache paths or the generator oracle.
 */
function run(plain: boolean, seed: number): Outcome {
  const results: (number | boolean | null)[] = [];
  let lost: () => string[] = () => [];
  let mig = migratorStats();
  const scenario: Scenario = {
    name: 'file-io-plain',
    title: 'read(2) and write(2) under migration',
    description: 'a test scenario',
    sources: [],
    config: {
      nodes: [
        { pages: 512, cpus: 2 },
        { pages: 512, cpus: 3 },
      ],
      strategy: 'random',
      seed,
    },
    build(k) {
      const file = k.createFile('data', { content: [100, 101, 102, 103, 104, 105] });
      const indices = [0, 1, 2, 3];
      mig = migratorStats();
      const io = (cpu: number, writeRatio: number): Actor => ({
        name: `io${cpu}`,
        cpu,
        models: 'read(2) / write(2) of one word',
        *body(task: Task): KernelGen {
          const rng = k.rt.random.workload;
          const who = String(task);
          for (let n = 0; n < 12; n++) {
            const index = rng.int(0, 5);
            if (rng.chance(writeRatio)) {
              const value = task.id * 1000 + n;
              let done: boolean;
              if (plain) {
                const got = filemapWriteWordPlain(k, file, index, value, who);
                if (typeof got !== 'boolean') waited++;
                done = typeof got === 'boolean' ? got : yield* got;
              } else {
                done = yield* referenceWrite(k, file, index, value, who);
              }
              results.push(done);
            } else {
              results.push(
                plain
                  ? yield* filemapReadWord(k, file, index, who)
                  : yield* referenceRead(k, file, index, who),
              );
            }
            yield;
          }
        },
      });
      lost = () => {
        const folio = pageCacheLookup(k.mem, file, 1);
        if (folio !== undefined) setPageContent(k.mem, folio, -5);
        return k.shadow.verifyAll();
      };
      return {
        *setup() {
          yield* populateFile(k, file, indices);
        },
        actors: [
          io(1, 0.5),
          io(2, 0.7),
          io(3, 0.3),
          migrator(k, {
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 3,
            select: cachedFolios(k, file, [0, 1, 2, 3, 4, 5]),
            stats: mig,
          }),
          migrator(k, {
            cpu: 4,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 2,
            select: cachedFolios(k, file, [3, 2, 1, 0]),
            stats: migratorStats(),
          }),
        ],
      };
    },
  };
  const r = runScenario(scenario, { checkSteps: false });
  expect(r.error).toBeNull();
  expect(r.result?.status).toBe('completed');
  const k = r.kernel;
  return {
    steps: r.result?.steps ?? -1,
    token: r.result?.replayToken ?? '',
    clocks: r.result?.cpuClocks ?? [],
    results,
    violations: [...k.shadow.violations],
    readsChecked: k.shadow.readsChecked,
    migrated: mig.pagesMigrated,
    lost: lost(),
  };
}

/** Writes whose plain call handed over to a generator (a lock held, a folio frozen...). */
let waited = 0;

describe('read(2) / write(2) of a word through the plain page-cache calls', () => {
  it('takes the steps, results and shadow records of the generator paths', () => {
    let reads = 0;
    let migrated = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const fast = run(true, seed);
      const ref = run(false, seed);
      expect(fast).toEqual(ref);
      expect(fast.violations).toEqual([]);
      reads += fast.readsChecked;
      migrated += fast.migrated;
      // page 1 was populated, so its place is known: its overwritten word is reported lost
      expect(fast.lost).toHaveLength(1);
      expect(fast.lost[0]).toMatch(/^data#\d+\[1\] holds -5, but the last value written there/);
    }
    expect(reads).toBeGreaterThan(50);
    expect(migrated).toBeGreaterThan(20);
    // both halves of the plain write ran: done as plain calls, and handed over
    expect(waited).toBeGreaterThan(0);
  });
});
