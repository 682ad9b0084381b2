import type { Folio } from '@mmsim/folio';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { EAGAIN, type KernelGen, Mutex, Spinlock } from '@mmsim/runtime';
import { type DriverHost, defineDriver } from '../driver.js';
import { spinLockInCallback } from './spin.js';

/**
 * The state of a virtio balloon: `struct balloon_dev_info` (include/linux/balloon_compaction.h)
 * and the part of `struct virtio_balloon` (drivers/virtio/virtio_balloon.c) that migration
 * touches.
 */
export interface VirtioBalloonState {
  /** `b_dev_info->pages_lock`: protects the page list and `isolatedPages`. */
  readonly pagesLock: Spinlock;
  /** `vb->balloon_lock`: serialises inflate, deflate and migration (trylock there). */
  readonly balloonLock: Mutex;
  /** `b_dev_info->pages`, head first (`list_add` puts a page at the head). */
  readonly pages: Folio[];
  /** `b_dev_info->isolated_pages`. */
  isolatedPages: number;
  /** `vb->num_pages`. */
  numPages: number;
  /** Model counters: pages inflated, deflated, migrated; migrations refused with -EAGAIN. */
  readonly stats: { inflated: number; deflated: number; migrated: number; eagain: number };
  /** The word the next inflated page holds (what the guest gave the host: any value). */
  nextWord: number;
}

/** The words the balloon's pages hold start here (a marker, so a lost copy shows). */
export const BALLOON_WORD_BASE = 60;

/**
 * `balloon_page_enqueue(b_dev_info, page)` (mm/balloon_compaction.c, 6.3) on a page the
 * balloon just got: under `pages_lock`, `balloon_page_insert` (the page becomes movable
 * with the balloon's operations: the SDK's `allocPage`) and `list_add` to the list; counts
 * the inflation. The model allocates inside the same step (the kernel allocates first, with
 * no lock), so no compactor sees a movable balloon page that is not on the list. Returns the
 * page, or -1 when node `nid` has no free page.
 */
export function balloonPageEnqueue(
  s: VirtioBalloonState,
  host: DriverHost,
  nid: number,
  word: number,
): Folio | -1 {
  const page = host.allocPage(nid, word);
  if (page < 0) return -1;
  s.pages.unshift(page);
  s.numPages++;
  s.stats.inflated++;
  return page;
}

function removeFromList(s: VirtioBalloonState, page: Folio): boolean {
  const i = s.pages.indexOf(page);
  if (i < 0) return false;
  s.pages.splice(i, 1);
  return true;
}

/**
 * virtio-balloon as a driver of non-LRU movable pages:
 *
 * - `isolatePage`: `balloon_page_isolate` (mm/balloon_compaction.c, 6.3): under
 *   `pages_lock`, `list_del` the page and count it in `isolated_pages`; always true.
 * - `migratePage`: `balloon_page_migrate` -> `virtballoon_migratepage`
 *   (drivers/virtio/virtio_balloon.c, 6.3): -EAGAIN unless `mutex_trylock(balloon_lock)`
 *   (an inflate or deflate is running); then, under `pages_lock`, the new page joins the
 *   balloon (`get_page`, `balloon_page_insert`, `isolated_pages--`), the host is told
 *   (inflate newpage, deflate page), the old page leaves (`balloon_page_delete`: no longer
 *   movable) and loses the balloon's reference: `host.movePage`.
 * - `putbackPage`: `balloon_page_putback`: under `pages_lock`, back on the list,
 *   `isolated_pages--`.
 * - operations `inflate` (`fill_balloon`) and `deflate` (`leak_balloon`), `arg` pages
 *   each, under `balloon_lock`; deflate takes pages with `balloon_page_dequeue`, which
 *   trylocks each page's lock and skips the ones it cannot lock.
 *
 * The page lock the migration core holds across `migrate_page` is what keeps deflate
 * (`trylock_page` in `balloon_page_dequeue`) away from a page being migrated.
 */
export const virtioBalloon = defineDriver<VirtioBalloonState>({
  name: 'virtio-balloon',
  setup(host) {
    const rt = host.kernel.rt;
    return {
      pagesLock: new Spinlock(rt, `b_dev_info->pages_lock (${host.name})`),
      balloonLock: new Mutex(rt, `vb->balloon_lock (${host.name})`),
      pages: [],
      isolatedPages: 0,
      numPages: 0,
      stats: { inflated: 0, deflated: 0, migrated: 0, eagain: 0 },
      nextWord: BALLOON_WORD_BASE,
    };
  },
  isolatePage(s, page, _mode, host) {
    spinLockInCallback(s.pagesLock, host.name, 'balloon_page_isolate');
    removeFromList(s, page);
    s.isolatedPages++;
    s.pagesLock.unlock();
    return true;
  },
  migratePage(s, dst, src, _mode, host) {
    if (!s.balloonLock.trylock()) {
      s.stats.eagain++;
      return -EAGAIN;
    }
    spinLockInCallback(s.pagesLock, host.name, 'virtballoon_migratepage');
    host.movePage(dst, src);
    s.pages.unshift(dst);
    s.isolatedPages--;
    s.stats.migrated++;
    s.pagesLock.unlock();
    s.balloonLock.unlock();
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage(s, page, host) {
    spinLockInCallback(s.pagesLock, host.name, 'balloon_page_putback');
    s.pages.unshift(page);
    s.isolatedPages--;
    s.pagesLock.unlock();
  },
  populate(s, host, nid, count) {
    for (let i = 0; i < count; i++) {
      if (balloonPageEnqueue(s, host, nid, s.nextWord++) < 0) break;
    }
  },
  operations: {
    /** `fill_balloon(vb, num)`: `arg` pages, one per step, on node 0 (else any node). */
    *inflate(s, host, arg): KernelGen {
      yield* s.balloonLock.lock();
      for (let i = 0; i < arg; i++) {
        let page: Folio | -1 = -1;
        for (let nid = 0; nid < host.kernel.nrNodes && page < 0; nid++) {
          if (s.pagesLock.trylock()) {
            page = balloonPageEnqueue(s, host, nid, s.nextWord);
            s.pagesLock.unlock();
          }
        }
        if (page < 0) break;
        s.nextWord++;
        yield; // tell_host(vb, vb->inflate_vq)
      }
      s.balloonLock.unlock();
    },
    /**
     * `leak_balloon(vb, num)`: `balloon_page_dequeue` up to `arg` pages (a page whose lock
     * is taken, by a migration, is skipped), tell the host, give them back.
     */
    *deflate(s, host, arg): KernelGen {
      yield* s.balloonLock.lock();
      const k = host.kernel;
      for (let i = 0; i < arg; i++) {
        if (!s.pagesLock.trylock()) break;
        let taken: Folio | -1 = -1;
        for (const page of s.pages) {
          if (!k.locks.folioTrylock(page, 'balloon_page_dequeue')) continue;
          taken = page;
          break;
        }
        if (taken >= 0) {
          removeFromList(s, taken);
          // balloon_page_delete: the page is no longer movable; then its lock goes and
          // release_pages_balloon drops the balloon's reference.
          k.locks.folioUnlock(taken);
          host.freePage(taken);
          s.numPages--;
          s.stats.deflated++;
        }
        s.pagesLock.unlock();
        if (taken < 0) break;
        yield; // tell_host(vb, vb->deflate_vq)
      }
      s.balloonLock.unlock();
    },
  },
});
