import { defineDriver } from '@mmsim/driver';
import { folioGet } from '@mmsim/folio';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { base } from './shared.js';

/** Takes a second reference on dst when it migrates a page, and never drops it. */
export default defineDriver({
  ...base('extra-reference'),
  migratePage(_s, dst, src, _mode, host) {
    host.movePage(dst, src);
    folioGet(host.kernel.mem, dst);
    return MIGRATEPAGE_SUCCESS;
  },
});
