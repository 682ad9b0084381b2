import { defineDriver } from '@mmsim/driver';
import { base } from './shared.js';

/** Forgets to return from migrate_page. */
export default defineDriver({
  ...base('returns-undefined'),
  migratePage(_s, dst, src, _mode, host) {
    host.movePage(dst, src);
    return undefined as unknown as number;
  },
});
