import { defineDriver } from '@mmsim/driver';
import type { Folio } from '@mmsim/folio';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import type { KernelGen } from '@mmsim/runtime';

interface State {
  readonly pages: Set<Folio>;
}

/**
 * Gives a page back in putback_page but keeps it on its own list; its `scrub` operation
 * later writes every page on that list.
 */
export default defineDriver<State>({
  name: 'use-after-putback',
  setup: () => ({ pages: new Set() }),
  isolatePage: () => true,
  migratePage(s, dst, src, _mode, host) {
    host.movePage(dst, src);
    s.pages.delete(src);
    s.pages.add(dst);
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage(_s, page, host) {
    host.freePage(page); // bug: still on s.pages
  },
  populate(s, host, nid, count) {
    for (let i = 0; i < count; i++) {
      const page = host.allocPage(nid, 0x200 + i);
      if (page !== -1) s.pages.add(page);
    }
  },
  operations: {
    *scrub(s, host, arg): KernelGen {
      for (let round = 0; round < arg * 8; round++) {
        for (const page of s.pages) host.writePage(page, round);
        yield;
      }
    },
  },
});
