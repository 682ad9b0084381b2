import { defineDriver } from '@mmsim/driver';
import { clearPageMovable, MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { base } from './shared.js';

/** Moves the data and its reference to dst but leaves dst without movable operations. */
export default defineDriver({
  ...base('forgets-set-movable'),
  migratePage(_s, dst, src, _mode, host) {
    host.movePage(dst, src);
    clearPageMovable(host.kernel.mem, dst); // as if __SetPageMovable(dst) were never called
    return MIGRATEPAGE_SUCCESS;
  },
});
