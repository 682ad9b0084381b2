// A movable-page driver in 40 lines (see "Writing a driver" in packages/driver/README.md).
import { defineDriver } from '@mmsim/driver';
import type { Folio } from '@mmsim/folio';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { Spinlock } from '@mmsim/runtime';

interface Ring {
  readonly lock: Spinlock; // protects `list`
  readonly list: Set<Folio>; // the pages the driver may hand out (not isolated ones)
}

export const myDriver = defineDriver<Ring>({
  name: 'my-driver',
  setup: (host) => ({ lock: new Spinlock(host.kernel.rt, 'my-driver lock'), list: new Set() }),
  // The page is locked. Take it off the list: until putback or migration the core owns it.
  isolatePage(s, page) {
    if (!s.lock.trylock()) return false; // busy: refuse, compaction tries another page
    const ok = s.list.delete(page);
    s.lock.unlock();
    return ok;
  },
  // Both pages locked. Move the contents, the reference and the list entry to dst.
  migratePage(s, dst, src, _mode, host) {
    host.movePage(dst, src); // copy, get(dst), make dst movable, release src
    s.list.add(dst);
    return MIGRATEPAGE_SUCCESS;
  },
  // Migration gave up: the page is ours again.
  putbackPage(s, page) {
    s.list.add(page);
  },
  populate(s, host, nid, count) {
    for (let i = 0; i < count; i++) {
      const page = host.allocPage(nid, 0x1000 + i);
      if (page >= 0) s.list.add(page);
    }
  },
});

export default myDriver;
