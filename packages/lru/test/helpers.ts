import { type Folio, folioFlags, folioRefCount } from '@mmsim/folio';
import { type KernelGen, MmsimError, type MmsimErrorCode } from '@mmsim/runtime';
import { expect } from 'vitest';
import { NR_LRU_LISTS } from '../src/index.js';
import type { LruMachine as Machine } from '../src/testing/index.js';

/*
 * The LRU tests' own misuse checks (they assert with vitest). The machine and folio
 * fixtures come from this package's `./test` subpath (src/testing).
 */

/** Everything the LRU shows, plus the flags, references and place of `folios`. */
export function snapshot(m: Machine, folios: readonly Folio[]): unknown {
  const { lru, mem, vmstat } = m;
  const v = lru.view;
  const lists: unknown[] = [];
  for (let nid = 0; nid < v.nrNodes; nid++) {
    for (let l = 0; l < NR_LRU_LISTS; l++) {
      lists.push([v.listFolios(nid, l), v.listPages(nid, l)]);
    }
  }
  const batches: unknown[] = [];
  for (let cpu = 0; cpu < v.nrCpus; cpu++) batches.push(v.batchFolios(cpu));
  return {
    lists,
    batches,
    disable: v.lruDisableCount,
    vmstat: vmstat.entries(),
    folios: folios.map((f) => [
      folioFlags(mem, f),
      folioRefCount(mem, f),
      v.folioLru(f),
      v.inBatch(f),
    ]),
  };
}

/** Expects `fn` to throw an MmsimError with `code` (and `message`), changing nothing. */
export function expectMisuse(
  m: Machine,
  folios: readonly Folio[],
  fn: () => unknown,
  code: MmsimErrorCode,
  message?: RegExp,
): void {
  const before = snapshot(m, folios);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected the call to throw').toBeInstanceOf(MmsimError);
  const err = thrown as MmsimError;
  expect(err.code, err.message).toBe(code);
  if (message !== undefined) expect(err.message).toMatch(message);
  expect(snapshot(m, folios)).toEqual(before);
}

/** Drives a generator to its end outside the scheduler (for one-step misuse checks). */
export function drive<T>(gen: KernelGen<T>): T {
  for (;;) {
    const r = gen.next();
    if (r.done === true) return r.value;
  }
}

/**
 * Runs `setup` in a driver task, snapshots, then runs `misuse` in the same task; expects
 * the run to end with an MmsimError of `code` and the LRU and `folios` unchanged.
 */
export function expectMisuseInRun(
  m: Machine,
  folios: readonly Folio[],
  setup: () => KernelGen<void>,
  misuse: () => KernelGen<unknown>,
  code: MmsimErrorCode,
  message?: RegExp,
): void {
  let before: unknown = null;
  m.rt.spawn('driver', 0, function* () {
    yield* setup();
    before = snapshot(m, folios);
    yield* misuse();
  });
  let thrown: unknown;
  try {
    m.rt.run();
  } catch (e) {
    thrown = e;
  }
  expect(before, 'setup did not finish').not.toBeNull();
  expect(thrown, 'expected the run to throw').toBeInstanceOf(MmsimError);
  const err = thrown as MmsimError;
  expect(err.code, err.message).toBe(code);
  if (message !== undefined) expect(err.message).toMatch(message);
  expect(snapshot(m, folios)).toEqual(before);
}
