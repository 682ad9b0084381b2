import { defineDriver } from '@mmsim/driver';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { EAGAIN, type KernelGen, Mutex } from '@mmsim/runtime';
import { base } from './shared.js';

const { isolatePage, putbackPage, populate } = base('lock-inversion');

interface State {
  readonly lock: Mutex;
}

/**
 * Takes its mutex in migrate_page (under the page lock) and, in its `reclaim` operation,
 * sleeps on a page lock while holding the same mutex.
 */
export default defineDriver<State>({
  name: 'lock-inversion',
  isolatePage,
  putbackPage,
  populate,
  setup: (host) => ({ lock: new Mutex(host.kernel.rt, 'reclaim_lock') }),
  migratePage(s, dst, src, _mode, host) {
    if (!s.lock.trylock()) return -EAGAIN;
    host.movePage(dst, src);
    s.lock.unlock();
    return MIGRATEPAGE_SUCCESS;
  },
  operations: {
    *reclaim(s, host, _arg): KernelGen {
      yield* s.lock.lock();
      const page = host.pages[0];
      if (page !== undefined) {
        yield* host.kernel.locks.folioLock(page, 'reclaim');
        host.kernel.locks.folioUnlock(page);
      }
      s.lock.unlock();
    },
  },
});
