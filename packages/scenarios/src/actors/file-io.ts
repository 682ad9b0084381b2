import { type Folio, folioTestFlag, PG_locked, PG_uptodate } from '@mmsim/folio';
import {
  type Actor,
  filemapGetFolioPlain,
  filemapLockFolioPlain,
  folioMarkDirty,
  folioPutDeclaredPlain,
  folioUnlockPutPlain,
  type Kernel,
  type PageCacheAlloc,
  pageCacheDeclaresFootprints,
  pageCacheLookup,
  pageCacheWord,
  setPageCacheWord,
} from '@mmsim/kernel';
import type { AddressSpaceView } from '@mmsim/rmap';
import { FP_MAPPING, type KernelGen, MmsimError, type Runtime, type Task } from '@mmsim/runtime';
import { type AccessPattern, pagePicker } from './access-pattern.js';

/** Options of `fileIoTask`. */
export interface FileIoOptions {
  /** Default `fileio`. */
  readonly name?: string;
  readonly cpu: number;
  readonly file: AddressSpaceView;
  /** First page index and number of pages of the range it reads and writes. */
  readonly first?: number;
  readonly pages: number;
  readonly pattern?: AccessPattern;
  readonly accesses: number;
  /** Probability that a call is a write(2); the rest are read(2). Default 0.5. */
  readonly writeRatio?: number;
}

/** A new page-cache folio of order 0 on the node of the task's CPU (both lookups that create one). */
const ORDER0_ALLOC: PageCacheAlloc = Object.freeze({});

/**
 * `generic_perform_write` for one word (mm/filemap.c, 6.3): `write_begin` finds or
 * creates the folio and locks it (`grab_cache_page_write_begin`, FGP_LOCK | FGP_CREAT),
 * the data is copied in (from a register: no user page can fault while the folio is
 * locked, as `copy_page_from_iter_atomic` guarantees), `write_end` dirties and unlocks.
 * The new value is recorded in the shadow in the step of the store.
 */
export function* filemapWriteWord(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  value: number,
  writer: string,
): KernelGen<boolean> {
  const got = filemapWriteWordPlain(k, file, index, value, writer);
  return typeof got === 'boolean' ? got : yield* got;
}

/**
 * `filemapWriteWord` as plain calls while nothing waits (the folio's lock taken with its
 * trylock, a put that is not the last): whether the word was written; otherwise the
 * generator that goes on from the first point that may wait, for the caller to run at
 * once, in the same step. The same steps, footprint, locks and shadow record.
 */
export function filemapWriteWordPlain(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  value: number,
  writer: string,
): boolean | KernelGen<boolean> {
  const got = filemapLockFolioPlain(k, file, index, 'grab_cache_page_write_begin', ORDER0_ALLOC);
  if (typeof got !== 'number') return writeWordAfterLock(k, got, file, index, value, writer);
  return writeLockedWord(k, got, file, index, value, writer);
}

/** The rest of `filemapWriteWordPlain` once the locked lookup returned `folio`. */
function writeLockedWord(
  k: Kernel,
  folio: Folio,
  file: AddressSpaceView,
  index: number,
  value: number,
  writer: string,
): boolean | KernelGen<boolean> {
  if (folio < 0) return false;
  setPageCacheWord(k, folio, index, value);
  k.shadow.wroteFile(file, index, value, writer); // as wrote({ kind: 'file', file, index })
  folioMarkDirty(k, folio);
  const rest = folioUnlockPutPlain(k, folio);
  return rest === null ? true : finishWrite(rest);
}

/** `filemapWriteWordPlain` from a locked lookup that may wait (`lock`, not started). */
function* writeWordAfterLock(
  k: Kernel,
  lock: KernelGen<Folio>,
  file: AddressSpaceView,
  index: number,
  value: number,
  writer: string,
): KernelGen<boolean> {
  const folio = yield* lock;
  const got = writeLockedWord(k, folio, file, index, value, writer);
  return typeof got === 'boolean' ? got : yield* got;
}

/** The put of `folioUnlockPut` that remained (the last reference, or a replaced LRU's). */
function* finishWrite(put: KernelGen): KernelGen<boolean> {
  yield* put;
  return true;
}

/**
 * `filemap_read` for one word (mm/filemap.c, 6.3): find the folio with a reference
 * (`filemap_get_pages`), on a miss read it in (`page_cache_sync_readahead`: a new locked
 * folio filled from the file, then unlocked), wait for a read in progress
 * (`filemap_update_page` waits on the lock of a folio that is not uptodate), copy the word
 * out and drop the reference. The value is checked against the shadow in the step of the
 * load. Returns the word, or null when memory ran out. The page-cache calls run as plain
 * calls where they cannot wait (`filemapGetFolioPlain`, `filemapLockFolioPlain`,
 * `folioUnlockPutPlain`, `folioPutDeclaredPlain`), with the same steps.
 */
export function* filemapReadWord(
  k: Kernel,
  file: AddressSpaceView,
  index: number,
  reader: string,
): KernelGen<number | null> {
  const mem = k.mem;
  for (;;) {
    const looked = filemapGetFolioPlain(k, file, index);
    let folio = typeof looked === 'number' ? looked : yield* looked;
    if (folio < 0) {
      const locked = filemapLockFolioPlain(
        k,
        file,
        index,
        'page_cache_sync_readahead',
        ORDER0_ALLOC,
      );
      folio = typeof locked === 'number' ? locked : yield* locked;
      if (folio < 0) return null;
      const unlocked = folioUnlockPutPlain(k, folio); // the read completed synchronously
      if (unlocked !== null) yield* unlocked;
      continue;
    }
    if (!folioTestFlag(mem, folio, PG_uptodate) && folioTestFlag(mem, folio, PG_locked)) {
      yield* k.locks.folioWaitLocked(folio, 'filemap_update_page');
    }
    k.rt.touchKernel(FP_MAPPING, file.id, false);
    if (pageCacheLookup(mem, file, index) !== folio) {
      // replaced meanwhile (migrated): look again
      const put = folioPutDeclaredPlain(k, folio);
      if (put !== null) yield* put;
      continue;
    }
    const value = pageCacheWord(k, folio, index);
    k.shadow.readFile(file, index, value, reader); // as read({ kind: 'file', file, index })
    yield; // copy_folio_to_iter: the copy to user space may fault
    const put = folioPutDeclaredPlain(k, folio);
    if (put !== null) yield* put;
    return value;
  }
}

/**
 * A task calling read(2) and write(2) on a file, one word at a time
 * (`ksys_read` / `ksys_write` -> `filemap_read` / `generic_perform_write`, mm/filemap.c,
 * 6.3), pages chosen in a pattern from the workload random stream.
 */
/** Footprint ids of the workload random stream, one per runtime (taken at build time). */
const workloadStreamIds = new WeakMap<Runtime, number>();

/** The footprint id standing for `rt.random.workload` (every draw writes the stream). */
function workloadStreamId(rt: Runtime): number {
  let id = workloadStreamIds.get(rt);
  if (id === undefined) {
    id = rt.newObjectId();
    workloadStreamIds.set(rt, id);
  }
  return id;
}

export function fileIoTask(k: Kernel, options: FileIoOptions): Actor {
  const { accesses } = options;
  const first = options.first ?? 0;
  const writeRatio = options.writeRatio ?? 0.5;
  const rngId = workloadStreamId(k.rt);
  if (!Number.isInteger(accesses) || accesses < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `accesses must be a non-negative integer, got ${String(accesses)}`,
    );
  }
  return {
    name: options.name ?? 'fileio',
    cpu: options.cpu,
    models: 'read(2) / write(2): filemap_read / generic_perform_write (mm/filemap.c, 6.3)',
    // Every shared access is recorded: the page cache, folio locks and data, the draws
    // from the workload stream; allocating a missing page is global.
    declaresFootprints: pageCacheDeclaresFootprints(k),
    body: (task: Task): KernelGen => fileIoBody(k, options, first, writeRatio, rngId, task),
  };
}

/** `fileIoTask`'s task body (a module-level generator: see `initTask` in scenario.ts). */
function* fileIoBody(
  k: Kernel,
  options: FileIoOptions,
  first: number,
  writeRatio: number,
  rngId: number,
  task: Task,
): KernelGen {
  const { file, pages, accesses } = options;
  const rt = k.rt;
  rt.touch(rngId, true);
  const rng = rt.random.workload;
  const pick = pagePicker(options.pattern ?? 'random', pages, rng);
  const who = String(task);
  for (let n = 0; n < accesses; n++) {
    rt.touch(rngId, true);
    const index = first + pick(n);
    if (rng.chance(writeRatio)) {
      const wrote = filemapWriteWordPlain(k, file, index, task.id * 1_000_000 + n + 1, who);
      if (typeof wrote !== 'boolean') yield* wrote;
    } else {
      yield* filemapReadWord(k, file, index, who);
    }
    yield;
  }
}
