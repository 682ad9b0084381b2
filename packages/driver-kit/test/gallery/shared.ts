import type { DriverSpec } from '@mmsim/driver';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';

/**
 * A correct driver the gallery's broken ones start from: pages on a plain list, moved with
 * `host.movePage`. Each gallery module overrides one callback with one bug.
 */
export function base(name: string): DriverSpec<object> {
  return {
    name,
    setup: () => ({}),
    isolatePage: () => true,
    migratePage(_s, dst, src, _mode, host) {
      host.movePage(dst, src);
      return MIGRATEPAGE_SUCCESS;
    },
    putbackPage() {},
    populate(_s, host, nid, count) {
      for (let i = 0; i < count; i++) host.allocPage(nid, 0x100 + i);
    },
  };
}
