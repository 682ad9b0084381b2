import type { Folio } from '@mmsim/folio';
import type { ShadowLocation } from '@mmsim/kernel';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { EBUSY, type KernelGen, Spinlock } from '@mmsim/runtime';
import { type DriverHost, defineDriver } from '../driver.js';
import { spinLockInCallback } from './spin.js';

/** Order-0 pages per zspage in the model (the kernel picks 1-4 per size class). */
export const ZS_PAGES_PER_ZSPAGE = 2;
/** Objects per page in the model's one size class. */
export const ZS_OBJS_PER_PAGE = 4;

/** A zspage: `struct zspage` with its page chain, its lock and its in-use count. */
export interface Zspage {
  readonly id: number;
  /** The chain of pages (`create_page_chain`): first page first. */
  readonly pages: Folio[];
  /** `zspage->lock` (`migrate_read_lock` / `migrate_write_lock`; an rwlock, here exclusive). */
  readonly lock: Spinlock;
  /** `zspage->inuse`: allocated objects. */
  inuse: number;
  /** Freed (its pages given back); a freed zspage is off the class's list. */
  freed: boolean;
}

/** Where an object lives: page and index (`obj_to_location`). */
export interface ZsObjLocation {
  page: Folio;
  idx: number;
}

/** The state of a zsmalloc pool with one size class. */
export interface ZsmallocState {
  /** `pool->migrate_lock` (an rwlock; here exclusive, held within a step). */
  readonly migrateLock: Spinlock;
  /** `class->lock` of the one size class. */
  readonly classLock: Spinlock;
  /** The class's zspages (every fullness group), oldest first. */
  readonly zspages: Zspage[];
  /** Each page's zspage and index in its chain. */
  readonly pageOf: Map<Folio, { zspage: Zspage; index: number }>;
  /** Each page's object words (`null`: a free slot). */
  readonly objs: Map<Folio, (number | null)[]>;
  /** Handle -> object location (the handle's word in the kernel). */
  readonly handles: Map<number, ZsObjLocation>;
  /** Handles in allocation order (what `zs_free` operations free, oldest first). */
  readonly live: number[];
  nextHandle: number;
  nextZspage: number;
  /** Model counters. */
  readonly stats: {
    malloced: number;
    freed: number;
    compacted: number;
    migrated: number;
    zspagesFreed: number;
    deferredFrees: number;
  };
}

/** The word a page holds: a digest of its objects, so a lost copy changes it. */
function pageWord(objs: readonly (number | null)[]): number {
  let h = 17;
  for (let i = 0; i < objs.length; i++) h = (h * 31 + (objs[i] ?? -1) * (i + 1)) | 0;
  return h;
}

function shadowOf(s: ZsmallocState, host: DriverHost, handle: number): ShadowLocation {
  return {
    kind: 'custom',
    name: `${host.name} handle ${handle}`,
    read: () => {
      const at = s.handles.get(handle);
      if (at === undefined) return null;
      return s.objs.get(at.page)?.[at.idx] ?? null;
    },
  };
}

/**
 * `alloc_zspage` + `insert_zspage` + `SetZsPageMovable` (mm/zsmalloc.c): a zspage of
 * `ZS_PAGES_PER_ZSPAGE` pages on node `nid` (any node when it is full), every page movable
 * with zsmalloc's operations. Null when memory is short (what was allocated goes back).
 */
function allocZspage(s: ZsmallocState, host: DriverHost, nid: number): Zspage | null {
  const zspage: Zspage = {
    id: s.nextZspage++,
    pages: [],
    lock: new Spinlock(host.kernel.rt, `zspage->lock (${host.name} zspage ${s.nextZspage - 1})`),
    inuse: 0,
    freed: false,
  };
  const empty = new Array<number | null>(ZS_OBJS_PER_PAGE).fill(null);
  for (let i = 0; i < ZS_PAGES_PER_ZSPAGE; i++) {
    let page: Folio | -1 = host.allocPage(nid, pageWord(empty));
    for (let n = 0; n < host.kernel.nrNodes && page < 0; n++) {
      page = host.allocPage(n, pageWord(empty));
    }
    if (page < 0) {
      for (const p of zspage.pages) releasePage(s, host, p);
      return null;
    }
    zspage.pages.push(page);
    s.pageOf.set(page, { zspage, index: i });
    s.objs.set(page, [...empty]);
  }
  s.zspages.push(zspage);
  return zspage;
}

function releasePage(s: ZsmallocState, host: DriverHost, page: Folio): void {
  s.pageOf.delete(page);
  s.objs.delete(page);
  host.freePage(page);
}

/** `obj_malloc`: the first free slot of `zspage`, filled with `word`; its handle. */
function objMalloc(s: ZsmallocState, host: DriverHost, zspage: Zspage, word: number): number {
  for (const page of zspage.pages) {
    const objs = s.objs.get(page) as (number | null)[];
    const idx = objs.indexOf(null);
    if (idx < 0) continue;
    objs[idx] = word;
    host.writePage(page, pageWord(objs));
    zspage.inuse++;
    const handle = s.nextHandle++;
    s.handles.set(handle, { page, idx });
    s.live.push(handle);
    host.kernel.shadow.wrote(shadowOf(s, host, handle), word, host.name);
    s.stats.malloced++;
    return handle;
  }
  return -1;
}

/**
 * `free_zspage` (mm/zsmalloc.c): `trylock_zspage` (the page lock of every page; one held by
 * a migration makes it fail, and the free is deferred to the next `zs_compact`:
 * `kick_deferred_free`); else `__free_zspage`: each page is reset (no longer movable),
 * unlocked and put. Called with `class->lock` held.
 */
function freeZspage(s: ZsmallocState, host: DriverHost, zspage: Zspage): void {
  const locks = host.kernel.locks;
  const taken: Folio[] = [];
  for (const page of zspage.pages) {
    if (!locks.folioTrylock(page, 'trylock_zspage')) {
      for (const p of taken) locks.folioUnlock(p);
      s.stats.deferredFrees++;
      return;
    }
    taken.push(page);
  }
  zspage.freed = true;
  s.zspages.splice(s.zspages.indexOf(zspage), 1);
  for (const page of zspage.pages) {
    locks.folioUnlock(page);
    releasePage(s, host, page);
  }
  s.stats.zspagesFreed++;
}

/** `obj_free` of `handle` and, when its zspage is empty, `free_zspage`. */
function objFree(s: ZsmallocState, host: DriverHost, handle: number): void {
  const at = s.handles.get(handle) as ZsObjLocation;
  const objs = s.objs.get(at.page) as (number | null)[];
  objs[at.idx] = null;
  host.writePage(at.page, pageWord(objs));
  host.kernel.shadow.forget(shadowOf(s, host, handle));
  s.handles.delete(handle);
  const info = s.pageOf.get(at.page) as { zspage: Zspage };
  info.zspage.inuse--;
  s.stats.freed++;
  if (info.zspage.inuse === 0) freeZspage(s, host, info.zspage);
}

/** A pool to allocate from: a zspage with a free slot (`find_get_zspage`), most used first. */
function zspageWithRoom(s: ZsmallocState): Zspage | null {
  let best: Zspage | null = null;
  for (const z of s.zspages) {
    if (z.inuse < ZS_PAGES_PER_ZSPAGE * ZS_OBJS_PER_PAGE && (best === null || z.inuse > best.inuse))
      best = z;
  }
  return best;
}

/**
 * zsmalloc as a driver of non-LRU movable pages, modelled on mm/zsmalloc.c (locking as in
 * 6.9 and later: `pool->migrate_lock`, then `class->lock`, then the zspage lock; 6.2-6.8
 * had one `pool->lock` in place of the first two) with one size class, zspages of
 * `ZS_PAGES_PER_ZSPAGE` pages and `ZS_OBJS_PER_PAGE` objects per page. Each object's word
 * is known to the shadow memory through its handle, so a migration or a compaction that
 * loses an object, or a handle left pointing at the old page, is caught.
 *
 * - `isolatePage`: `zs_page_isolate`: true (the page lock keeps the zspage from being
 *   destroyed, see `free_zspage`).
 * - `migratePage`: `zs_page_migrate`: `write_lock(migrate_lock)` (no `zs_free` or
 *   compaction can look up a handle), `class->lock`, `migrate_write_lock(zspage)`; copy the
 *   objects, point every handle of src at dst (`record_obj`), `replace_sub_page`, make dst
 *   movable, drop the references on src: `host.movePage`. -EBUSY for a page whose zspage
 *   was freed while it was isolated (page-type-2025 still calls `migrate_page` there).
 * - `putbackPage`: `zs_page_putback`: nothing.
 * - operations `zs_malloc` (`arg` objects), `zs_free` (`arg` objects, oldest first) and
 *   `zs_compact` (move objects from the least used zspage into the most used one until no
 *   zspage can be emptied; free the emptied ones).
 */
export const zsmalloc = defineDriver<ZsmallocState>({
  name: 'zsmalloc',
  setup(host) {
    const rt = host.kernel.rt;
    return {
      migrateLock: new Spinlock(rt, `pool->migrate_lock (${host.name})`),
      classLock: new Spinlock(rt, `class->lock (${host.name})`),
      zspages: [],
      pageOf: new Map(),
      objs: new Map(),
      handles: new Map(),
      live: [],
      nextHandle: 1,
      nextZspage: 0,
      stats: {
        malloced: 0,
        freed: 0,
        compacted: 0,
        migrated: 0,
        zspagesFreed: 0,
        deferredFrees: 0,
      },
    };
  },
  isolatePage() {
    return true;
  },
  migratePage(s, dst, src, _mode, host) {
    const info = s.pageOf.get(src);
    if (info === undefined) return -EBUSY;
    spinLockInCallback(s.migrateLock, host.name, 'zs_page_migrate (pool->migrate_lock)');
    spinLockInCallback(s.classLock, host.name, 'zs_page_migrate (class->lock)');
    spinLockInCallback(info.zspage.lock, host.name, 'zs_page_migrate (migrate_write_lock)');
    const objs = s.objs.get(src) as (number | null)[];
    s.objs.delete(src);
    s.objs.set(dst, objs);
    for (const at of s.handles.values()) if (at.page === src) at.page = dst;
    info.zspage.pages[info.index] = dst;
    s.pageOf.delete(src);
    s.pageOf.set(dst, info);
    host.movePage(dst, src);
    s.stats.migrated++;
    info.zspage.lock.unlock();
    s.classLock.unlock();
    s.migrateLock.unlock();
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage() {},
  populate(s, host, nid, count) {
    // Whole zspages, every object in use (before the run: no task, so no locks).
    const zspages = Math.ceil(count / ZS_PAGES_PER_ZSPAGE);
    for (let z = 0; z < zspages; z++) {
      const zspage = allocZspage(s, host, nid);
      if (zspage === null) return;
      for (let i = 0; i < ZS_PAGES_PER_ZSPAGE * ZS_OBJS_PER_PAGE; i++) {
        objMalloc(s, host, zspage, 1000 * (zspage.id + 1) + i);
      }
    }
  },
  operations: {
    /** `zs_malloc(pool, size)`, `arg` times: one object per step, a new zspage when full. */
    *zs_malloc(s, host, arg): KernelGen {
      for (let i = 0; i < arg; i++) {
        spinLockInCallback(s.classLock, host.name, 'zs_malloc (class->lock)');
        let zspage = zspageWithRoom(s);
        if (zspage === null) zspage = allocZspage(s, host, 0);
        if (zspage !== null) objMalloc(s, host, zspage, 7000 + s.nextHandle);
        s.classLock.unlock();
        yield;
      }
    },
    /** `zs_free(pool, handle)`, `arg` times, oldest handle first. */
    *zs_free(s, host, arg): KernelGen {
      for (let i = 0; i < arg; i++) {
        const handle = s.live.shift();
        if (handle === undefined) return;
        spinLockInCallback(s.migrateLock, host.name, 'zs_free (pool->migrate_lock)');
        spinLockInCallback(s.classLock, host.name, 'zs_free (class->lock)');
        s.migrateLock.unlock();
        objFree(s, host, handle);
        s.classLock.unlock();
        yield;
      }
    },
    /**
     * `zs_compact(pool)` -> `__zs_compact(pool, class)`, `arg` rounds: under
     * `migrate_lock` and `class->lock`, move the objects of the least used zspage into the
     * most used one with room (`migrate_zspage`), free it when emptied; one zspage per
     * step. Also retries zspages whose free was deferred.
     */
    *zs_compact(s, host, arg): KernelGen {
      for (let round = 0; round < arg; round++) {
        spinLockInCallback(s.migrateLock, host.name, 'zs_compact (pool->migrate_lock)');
        spinLockInCallback(s.classLock, host.name, 'zs_compact (class->lock)');
        for (const z of [...s.zspages]) if (z.inuse === 0) freeZspage(s, host, z);
        const cap = ZS_PAGES_PER_ZSPAGE * ZS_OBJS_PER_PAGE;
        const used = s.zspages.filter((z) => z.inuse > 0).sort((a, b) => a.inuse - b.inuse);
        const src = used[0];
        // isolate_dst_zspage: the most used zspage that still has room, not src.
        const dst = used.filter((z) => z !== src && z.inuse < cap).at(-1);
        if (src !== undefined && dst !== undefined) {
          for (const page of src.pages) {
            const objs = s.objs.get(page) as (number | null)[];
            for (let idx = 0; idx < objs.length && dst.inuse < cap; idx++) {
              const word = objs[idx];
              if (word === null || word === undefined) continue;
              const handle = [...s.handles].find(
                ([, at]) => at.page === page && at.idx === idx,
              )?.[0];
              if (handle === undefined) continue;
              // migrate_zspage: copy the object to a free slot of dst, record the new
              // location in the handle, free the old slot.
              for (const dpage of dst.pages) {
                const dobjs = s.objs.get(dpage) as (number | null)[];
                const free = dobjs.indexOf(null);
                if (free < 0) continue;
                dobjs[free] = word;
                host.writePage(dpage, pageWord(dobjs));
                dst.inuse++;
                objs[idx] = null;
                src.inuse--;
                s.handles.set(handle, { page: dpage, idx: free });
                s.stats.compacted++;
                break;
              }
            }
            host.writePage(page, pageWord(objs));
          }
          if (src.inuse === 0) freeZspage(s, host, src);
        }
        s.classLock.unlock();
        s.migrateLock.unlock();
        yield; // cond_resched() between zspages
      }
    },
  },
});
