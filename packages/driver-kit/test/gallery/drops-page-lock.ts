import { defineDriver } from '@mmsim/driver';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { base } from './shared.js';

/** Unlocks src inside migrate_page, as if the page lock were its own to drop. */
export default defineDriver({
  ...base('drops-page-lock'),
  migratePage(_s, dst, src, _mode, host) {
    host.movePage(dst, src);
    host.kernel.locks.folioUnlock(src);
    return MIGRATEPAGE_SUCCESS;
  },
});
