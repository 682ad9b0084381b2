import { defineDriver } from '@mmsim/driver';
import { folioSetFlag, PG_isolated } from '@mmsim/folio';
import { base } from './shared.js';

/** Marks the page PG_isolated itself in isolate_page (the core's job). */
export default defineDriver({
  ...base('sets-isolated'),
  isolatePage(_s, page, _mode, host) {
    folioSetFlag(host.kernel.mem, page, PG_isolated);
    return true;
  },
});
