import {
  type Folio,
  folioMapped,
  folioMappingKind,
  type MemmapReader,
  memmapReader,
  PAGE_MAPPING_ANON,
  type PhysicalMemory,
  readerFolioMapped,
  readerIsFolio,
  readerMapping,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, type Runtime, RwSemaphore } from '@mmsim/runtime';
import type { AnonVmaChainView, AnonVmaView } from './readonly-views.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * `struct anon_vma` (include/linux/rmap.h, 6.3). The anon_vmas of one fork tree share a
 * `root`, whose `rwsem` is the lock of the whole tree (the others' is never used, so the
 * model only creates the root's). `rbRoot` is the interval tree of anon_vma_chains, here a
 * set: a walk filters it by page offset, which gives the same VMAs. The object itself is
 * what an anonymous folio's `mapping` points at (with PAGE_MAPPING_ANON).
 */
export class AnonVma implements AnonVmaView {
  readonly id: number;
  /** The root of this anon_vma's tree (itself for a root). */
  root: AnonVma;
  /** The anon_vma of the parent process's VMA at fork (itself for a root). */
  parent: AnonVma;
  /** `refcount`: the VMA that owns it, each child's pin of the root, folio_get_anon_vma. */
  refcount = 1;
  /** `num_children`: anon_vmas whose parent this is (a root counts itself once). */
  numChildren = 0;
  /** `num_active_vmas`: VMAs whose `anon_vma` is this one. */
  numActiveVmas = 0;
  /** `rb_root`: the anon_vma_chains of every VMA that may map pages of this anon_vma. */
  readonly rbRoot = new Set<AnonVmaChain>();
  /**
   * Model only: the chain linked last (`anon_vma_chain_link`), or null. When `rbRoot` has
   * one entry and this is it, it is the sole VMA's chain, found without iterating the set
   * (`soleUncontendedVma`); a hint, always checked against `rbRoot`.
   */
  lastLinked: AnonVmaChain | null = null;
  /** Set when the last reference is put (`anon_vma_free`). */
  freed = false;
  readonly #rt: Runtime;
  #rwsem: RwSemaphore | null = null;

  constructor(rt: Runtime, id: number) {
    this.#rt = rt;
    this.id = id;
    this.root = this;
    this.parent = this;
  }

  /** `anon_vma->root->rwsem`: the lock of the tree. */
  get rwsem(): RwSemaphore {
    const root = this.root;
    if (root.#rwsem === null) root.#rwsem = new RwSemaphore(root.#rt, `anon_vma ${root.id} rwsem`);
    return root.#rwsem;
  }

  toString(): string {
    return `anon_vma ${this.id}`;
  }
}

/**
 * `struct anon_vma_chain`: links a VMA to one anon_vma whose pages it may map. It sits on
 * the VMA's `anonVmaChain` list and in the anon_vma's `rbRoot`.
 */
export class AnonVmaChain implements AnonVmaChainView {
  readonly vma: Vma;
  readonly anonVma: AnonVma;

  constructor(vma: Vma, anonVma: AnonVma) {
    this.vma = vma;
    this.anonVma = anonVma;
  }
}

function useAfterFree(av: AnonVma, what: string): MmsimError {
  return new MmsimError(
    'USE_AFTER_FREE',
    `${what}: ${av} was freed (its last reference was put); take a reference with folioGetAnonVma first`,
  );
}

/** `anon_vma_alloc` (mm/rmap.c, 6.3): refcount 1, its own root and parent. */
export function anonVmaAlloc(ctx: RmapState): AnonVma {
  const av = new AnonVma(ctx.rt, ++ctx.anonVmaIds);
  ctx.liveAnonVmas++;
  return av;
}

/** `anon_vma_chain_link` (mm/rmap.c, 6.3): chain `vma` to `av`, newest first on its list. */
function anonVmaChainLink(vma: Vma, av: AnonVma): void {
  const avc = new AnonVmaChain(vma, av);
  vma.anonVmaChain.unshift(avc);
  av.rbRoot.add(avc);
  av.lastLinked = avc;
}

/** `anon_vma_lock_write` (include/linux/rmap.h, 6.3): down_write of the root's rwsem. */
export function* anonVmaLockWrite(av: AnonVma, caller: string): KernelGen {
  const sem = av.rwsem;
  if (!sem.downWriteTrylock()) yield* sem.downWrite(caller);
}

/** `anon_vma_lock_read` (include/linux/rmap.h, 6.3): down_read of the root's rwsem. */
export function* anonVmaLockRead(av: AnonVma, caller: string): KernelGen {
  const sem = av.rwsem;
  if (!sem.downReadTrylock()) yield* sem.downRead(caller);
}

/** `get_anon_vma` (include/linux/rmap.h, 6.3): one more reference. */
export function getAnonVma(av: AnonVma): void {
  if (av.freed) throw useAfterFree(av, 'get_anon_vma');
  av.refcount++;
}

/**
 * `put_anon_vma` / `__put_anon_vma` (mm/rmap.c, 6.3): drop a reference; the last one
 * frees the anon_vma and drops its pin on the root (which may free the root). The
 * kernel's `anon_vma_free` briefly takes the root's rwsem for write when it is locked, to
 * wait for a racing `folio_lock_anon_vma_read`; with no memory reuse in the model there is
 * nothing to wait for, so this is a plain function.
 */
export function putAnonVma(ctx: RmapState, av: AnonVma): void {
  if (av.freed) throw useAfterFree(av, 'put_anon_vma');
  if (av.refcount <= 0) {
    throw new MmsimError('COUNT_UNDERFLOW', `put_anon_vma: ${av} has refcount ${av.refcount}`);
  }
  if (--av.refcount > 0) return;
  anonVmaFree(ctx, av);
  const root = av.root;
  if (root !== av && --root.refcount === 0) anonVmaFree(ctx, root);
}

function anonVmaFree(ctx: RmapState, av: AnonVma): void {
  if (av.rbRoot.size !== 0) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `anon_vma_free: ${av} still has ${av.rbRoot.size} chained VMAs at refcount 0`,
    );
  }
  av.freed = true;
  ctx.liveAnonVmas--;
}

/**
 * `__anon_vma_prepare` (mm/rmap.c, 6.3): give `vma` an anon_vma before its first anonymous
 * page. The model has no VMA merging, so `find_mergeable_anon_vma` never finds one and a
 * new root is allocated (counting itself as its own child). Takes the new anon_vma's lock
 * for write and `page_table_lock`; if another thread of the mm got there first, the new
 * one is put back. Returns 0 (the model never fails the allocation).
 */
export function* anonVmaPrepare(ctx: RmapState, vma: Vma): KernelGen<number> {
  if (vma.anonVma !== null) return 0;
  const av = anonVmaAlloc(ctx);
  av.numChildren++; // self-parent link for a new root
  yield* anonVmaLockWrite(av, '__anon_vma_prepare');
  const ptl = vma.mm.pageTableLock;
  if (!ptl.trylock()) yield* ptl.lockContended();
  let used = false;
  if (vma.anonVma === null) {
    vma.anonVma = av;
    anonVmaChainLink(vma, av);
    av.numActiveVmas++;
    used = true;
  }
  ptl.unlock();
  av.rwsem.upWrite();
  if (!used) putAnonVma(ctx, av);
  return 0;
}

/**
 * `anon_vma_clone(dst, src)` (mm/rmap.c, 6.3): chain `dst` to every anon_vma `src` is
 * chained to (oldest first, under the tree's lock), so that rmap finds pages shared with
 * `src` in `dst` too. While doing so, reuse an existing anon_vma for `dst` when `dst` has
 * none, `src` has one, and the candidate has no active VMA and fewer than two children
 * (the 4.x fix against endless anon_vma chains); the root is never reused. Returns 0.
 */
export function* anonVmaClone(dst: Vma, src: Vma): KernelGen<number> {
  let locked: AnonVma | null = null;
  for (let i = src.anonVmaChain.length - 1; i >= 0; i--) {
    const av = src.anonVmaChain[i]!.anonVma;
    if (locked !== av.root) {
      if (locked !== null) locked.rwsem.upWrite();
      locked = av.root;
      yield* anonVmaLockWrite(av, 'anon_vma_clone');
    }
    anonVmaChainLink(dst, av);
    if (
      dst.anonVma === null &&
      src.anonVma !== null &&
      av.numChildren < 2 &&
      av.numActiveVmas === 0
    ) {
      dst.anonVma = av;
    }
  }
  if (dst.anonVma !== null) dst.anonVma.numActiveVmas++;
  if (locked !== null) locked.rwsem.upWrite();
  return 0;
}

/**
 * `anon_vma_fork(vma, pvma)` (mm/rmap.c, 6.3): the child VMA `vma` of a fork drops the
 * inherited anon_vma pointer, clones the parent VMA's chain (which may reuse an anon_vma,
 * and then it is done), or gets a new anon_vma of its own in the parent's tree: root =
 * parent's root (pinned with a reference), parent = `pvma`'s anon_vma (one more child).
 * New COW copies in the child go there. Returns 0.
 */
export function* anonVmaFork(ctx: RmapState, vma: Vma, pvma: Vma): KernelGen<number> {
  const parentAv = pvma.anonVma;
  if (parentAv === null) return 0;
  vma.anonVma = null;
  yield* anonVmaClone(vma, pvma);
  if (vma.anonVma !== null) return 0;
  const av = anonVmaAlloc(ctx);
  av.numActiveVmas++;
  av.root = parentAv.root;
  av.parent = parentAv;
  getAnonVma(av.root);
  vma.anonVma = av;
  yield* anonVmaLockWrite(av, 'anon_vma_fork');
  anonVmaChainLink(vma, av);
  av.parent.numChildren++;
  av.rwsem.upWrite();
  return 0;
}

/**
 * `unlink_anon_vmas(vma)` (mm/rmap.c, 6.3): take `vma` out of every anon_vma it is chained
 * to, newest first, under the tree's lock; an anon_vma whose tree becomes empty loses a
 * child from its parent and is put afterwards (outside the lock), which frees it unless
 * something else (a migration's folio_get_anon_vma) still holds it.
 */
export function* unlinkAnonVmas(ctx: RmapState, vma: Vma): KernelGen {
  const empty: AnonVma[] = [];
  let locked: AnonVma | null = null;
  for (const avc of vma.anonVmaChain) {
    const av = avc.anonVma;
    if (locked !== av.root) {
      if (locked !== null) locked.rwsem.upWrite();
      locked = av.root;
      yield* anonVmaLockWrite(av, 'unlink_anon_vmas');
    }
    av.rbRoot.delete(avc);
    if (av.lastLinked === avc) av.lastLinked = null;
    if (av.rbRoot.size === 0) {
      av.parent.numChildren--;
      empty.push(av);
    }
  }
  if (vma.anonVma !== null) {
    vma.anonVma.numActiveVmas--;
    vma.anonVma = null;
  }
  if (locked !== null) locked.rwsem.upWrite();
  vma.anonVmaChain.length = 0;
  for (const av of empty) putAnonVma(ctx, av);
}

/** `folio_anon_vma` (mm/util.c, 6.3): the anon_vma an anonymous folio points at, or null. */
export function folioAnonVma(mem: PhysicalMemory, folio: Folio): AnonVma | null {
  const r = memmapReader(mem);
  // Not a live folio: the accessor throws its error.
  if (!readerIsFolio(r, folio)) folioMappingKind(mem, folio);
  if (r.mappingKind[folio] !== PAGE_MAPPING_ANON) return null;
  return anonFolioAnonVma(r, folio);
}

/**
 * The rest of `folioAnonVma` for `folio` read through `r` and known to be a live folio whose
 * mapping kind is PAGE_MAPPING_ANON (unchecked, as `MemmapReader` reads are): its anon_vma,
 * or null. For a walk that has read the mapping kind itself (`uncontendedWalkTarget`, twice
 * a migrated folio) and need not read the frame's state and kind again.
 */
export function anonFolioAnonVma(r: MemmapReader, folio: Folio): AnonVma | null {
  const obj = readerMapping(r, folio);
  return obj instanceof AnonVma ? obj : null;
}

/**
 * `folio_get_anon_vma` (mm/rmap.c, 6.3): a reference on the folio's anon_vma, or null when
 * the folio is not anonymous (KSM included), not mapped, or its anon_vma is already at
 * refcount 0. Migration takes it before `try_to_migrate`: once the folio is unmapped
 * nothing else keeps the anon_vma alive.
 */
export function folioGetAnonVma(ctx: RmapState, folio: Folio): AnonVma | null {
  const av = folioAnonVma(ctx.mem, folio);
  // `folio_mapped`, read from the memmap: folioAnonVma checked that the folio is live.
  if (av === null || !readerFolioMapped(memmapReader(ctx.mem), folio)) return null;
  if (av.freed || av.refcount === 0) return null; // atomic_inc_not_zero failed
  av.refcount++;
  return av;
}

/**
 * `folio_lock_anon_vma_read` (mm/rmap.c, 6.3), without the try_lock variant: the folio's
 * anon_vma with its tree locked for read, or null when the folio is not anonymous or no
 * longer mapped. Trylock first; on contention pin the anon_vma, sleep in down_read, then
 * drop the pin (if it was the last one, unlock and give up, as the kernel does).
 */
export function* folioLockAnonVmaRead(ctx: RmapState, folio: Folio): KernelGen<AnonVma | null> {
  const av = folioAnonVma(ctx.mem, folio);
  if (av === null || !folioMapped(ctx.mem, folio)) return null;
  const sem = av.rwsem;
  if (sem.downReadTrylock()) {
    if (!folioMapped(ctx.mem, folio)) {
      sem.upRead();
      return null;
    }
    return av;
  }
  if (av.freed || av.refcount === 0) return null;
  av.refcount++;
  if (!folioMapped(ctx.mem, folio)) {
    putAnonVma(ctx, av);
    return null;
  }
  yield* sem.downRead('folio_lock_anon_vma_read');
  if (--av.refcount === 0) {
    sem.upRead();
    anonVmaFree(ctx, av);
    const root = av.root;
    if (root !== av && --root.refcount === 0) anonVmaFree(ctx, root);
    return null;
  }
  return av;
}
