import {
  type Folio,
  folioNrPages,
  folioTestAnon,
  folioTestFlag,
  folioTestKsm,
  PG_locked,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, type RwSemaphore } from '@mmsim/runtime';
import { folioAddressSpace } from './address-space.js';
import { type AnonVma, folioAnonVma, folioLockAnonVmaRead } from './anon-vma.js';
import { folioPgoff } from './hugetlb-state.js';
import { rmapWalkKsm } from './ksm.js';
import type { VmaView } from './readonly-views.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';
import { vmaAddress } from './vma-address.js';

/**
 * `struct rmap_walk_control` (include/linux/rmap.h, 6.3): what to do with each VMA that
 * may map a folio.
 */
export interface RmapWalkControl {
  /**
   * `rmap_one(folio, vma, address)`: called for every VMA that may map the folio, with the
   * address of the folio's first page in it (or the VMA start). Return false to stop the
   * walk. A callback that takes page-table locks, which may spin, returns a generator.
   */
  rmapOne(folio: Folio, vma: VmaView, address: number): boolean | KernelGen<boolean>;
  /** `done(folio)`: checked after each VMA; true stops the walk. */
  done?(folio: Folio): boolean;
  /** `invalid_vma(vma)`: true skips that VMA. */
  invalidVma?(vma: VmaView): boolean;
  /**
   * Use `folio_lock_anon_vma_read` (which gives up on an unmapped folio) to lock an anon
   * folio's anon_vma, as try_to_migrate does; otherwise the walk locks `folio_anon_vma`
   * directly, as remove_migration_ptes does.
   */
  anonLock?: boolean;
  /** `try_lock`: on a contended rmap lock, set `contended` and return instead of sleeping. */
  tryLock?: boolean;
  /** Set by the walk when `tryLock` met a contended lock. */
  contended?: boolean;
}

function isGenerator(value: boolean | KernelGen<boolean>): value is KernelGen<boolean> {
  return typeof value !== 'boolean';
}

/**
 * Runs `rmap_one` over `vmas` (an anon_vma's chain or a file's i_mmap, already filtered by
 * page offset), with `cond_resched()` between VMAs as a scheduling point. Returns when one
 * callback returns false or `done` holds.
 */
function* walkVmas(
  ctx: RmapState,
  folio: Folio,
  vmas: Iterable<Vma>,
  pgoff: number,
  nr: number,
  rwc: RmapWalkControl,
): KernelGen {
  const last = pgoff + nr - 1;
  let first = true;
  for (const vma of vmas) {
    if (vma.pgoff > last || vma.lastPgoff < pgoff) continue;
    if (!first && !ctx.rt.virtualStep()) yield; // cond_resched()
    first = false;
    ctx.rt.charge(ctx.costs.rmapStep);
    if (rwc.invalidVma?.(vma) === true) continue;
    const address = vmaAddress(vma, pgoff, nr);
    const r = rwc.rmapOne(folio, vma, address);
    const keepGoing = isGenerator(r) ? yield* r : r;
    if (!keepGoing) return;
    if (rwc.done?.(folio) === true) return;
  }
}

function* anonChainVmas(av: AnonVma): Generator<Vma, void, void> {
  for (const avc of av.rbRoot) yield avc.vma;
}

/**
 * `rmap_walk_anon_lock` (mm/rmap.c, 6.3) without an anon_lock callback: lock the folio's
 * anon_vma for read, trylock first; with `tryLock`, report contention instead of sleeping.
 */
function* rmapWalkAnonLock(
  ctx: RmapState,
  folio: Folio,
  rwc: RmapWalkControl,
): KernelGen<AnonVma | null> {
  if (rwc.anonLock === true) return yield* folioLockAnonVmaRead(ctx, folio);
  const av = folioAnonVma(ctx.mem, folio);
  if (av === null) return null;
  const sem = av.rwsem;
  if (sem.downReadTrylock()) return av;
  if (rwc.tryLock === true) {
    rwc.contended = true;
    return null;
  }
  yield* sem.downRead('rmap_walk_anon');
  return av;
}

/** `rmap_walk_anon(folio, rwc, locked)` (mm/rmap.c, 6.3). */
function* rmapWalkAnon(
  ctx: RmapState,
  folio: Folio,
  rwc: RmapWalkControl,
  locked: boolean,
): KernelGen {
  let av: AnonVma | null;
  if (locked) {
    av = folioAnonVma(ctx.mem, folio);
    if (av === null) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `rmap_walk_locked: folio ${folio} has no anon_vma`,
      );
    }
    checkHeld(ctx, av.rwsem, `anon_vma ${av.root.id} rwsem`);
  } else {
    av = yield* rmapWalkAnonLock(ctx, folio, rwc);
  }
  if (av === null) return;
  try {
    const pgoff = folioPgoff(ctx.mem, folio);
    const nr = folioNrPages(ctx.mem, folio);
    yield* walkVmas(ctx, folio, anonChainVmas(av), pgoff, nr, rwc);
  } finally {
    if (!locked) av.rwsem.upRead();
  }
}

/** `rmap_walk_file(folio, rwc, locked)` (mm/rmap.c, 6.3): the folio must be locked. */
function* rmapWalkFile(
  ctx: RmapState,
  folio: Folio,
  rwc: RmapWalkControl,
  locked: boolean,
): KernelGen {
  if (!folioTestFlag(ctx.mem, folio, PG_locked)) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `rmap_walk_file: folio ${folio} must be locked (VM_BUG_ON_FOLIO(!folio_test_locked))`,
    );
  }
  const as = folioAddressSpace(ctx.mem, folio);
  if (as === null) return;
  const pgoff = folioPgoff(ctx.mem, folio);
  const nr = folioNrPages(ctx.mem, folio);
  const sem = as.iMmapRwsem;
  if (locked) {
    checkHeld(ctx, sem, sem.name);
  } else if (!sem.downReadTrylock()) {
    if (rwc.tryLock === true) {
      rwc.contended = true;
      return;
    }
    yield* sem.downRead('rmap_walk_file');
  }
  try {
    yield* walkVmas(ctx, folio, as.iMmap, pgoff, nr, rwc);
  } finally {
    if (!locked) sem.upRead();
  }
}

function checkHeld(ctx: RmapState, sem: RwSemaphore, name: string): void {
  const me = ctx.rt.current;
  if (sem.writer !== me && !sem.holdsRead(me)) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `${me} walks the rmap as locked (TTU_RMAP_LOCKED / rmap_walk_locked) without holding ${name}`,
    );
  }
}

/** `rmap_walk_locked` never sees a KSM folio (6.3: VM_BUG_ON_FOLIO(folio_test_ksm(folio))). */
function checkKsm(ctx: RmapState, folio: Folio): void {
  if (folioTestKsm(ctx.mem, folio)) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `rmap_walk_locked: folio ${folio} is a KSM folio (VM_BUG_ON_FOLIO(folio_test_ksm))`,
    );
  }
}

/**
 * `rmap_walk(folio, rwc)` (mm/rmap.c, 6.3): visit every VMA that may map `folio`: for an
 * anonymous folio, the anon_vma's chain under its tree's rwsem (read); for a page-cache
 * folio, the file's i_mmap under `i_mmap_rwsem` (read, and the folio must be locked); for
 * a KSM folio, its stable node's rmap_items (`rmap_walk_ksm`, see ksm.ts).
 */
export function* rmapWalk(ctx: RmapState, folio: Folio, rwc: RmapWalkControl): KernelGen {
  if (folioTestKsm(ctx.mem, folio)) yield* rmapWalkKsm(ctx, folio, rwc);
  else if (folioTestAnon(ctx.mem, folio)) yield* rmapWalkAnon(ctx, folio, rwc, false);
  else yield* rmapWalkFile(ctx, folio, rwc, false);
}

/** `rmap_walk_locked(folio, rwc)`: the same, with the rmap lock already held by the caller. */
export function* rmapWalkLocked(ctx: RmapState, folio: Folio, rwc: RmapWalkControl): KernelGen {
  checkKsm(ctx, folio);
  if (folioTestAnon(ctx.mem, folio)) yield* rmapWalkAnon(ctx, folio, rwc, true);
  else yield* rmapWalkFile(ctx, folio, rwc, true);
}
