import { defineDriver } from '@mmsim/driver';
import { folioCopyContents, folioGet } from '@mmsim/folio';
import { folioMovableOps, setPageMovable } from '@mmsim/migrate';
import { EAGAIN } from '@mmsim/runtime';
import { base } from './shared.js';

/** Sets dst up as its page (copy, reference, movable) and then reports -EAGAIN. */
export default defineDriver({
  ...base('second-copy'),
  migratePage(_s, dst, src, _mode, host) {
    const mem = host.kernel.mem;
    const ops = folioMovableOps(mem, src);
    folioCopyContents(mem, dst, src);
    folioGet(mem, dst);
    if (ops !== null) setPageMovable(mem, dst, ops);
    return -EAGAIN;
  },
});
