import type { Folio } from '@mmsim/folio';
import type { Resource } from '@mmsim/runtime';
import { hex } from './folio-hex.js';
import type { PageLockState } from './page-lock-state.js';

/** The Resource a waiter of a folio bit sleeps on: its holder is the owner of the bit. */
export function folioBitResource(ctx: PageLockState, folio: Folio, writeback: boolean): Resource {
  const key = folio * 2 + (writeback ? 1 : 0);
  let resource = ctx.resources.get(key);
  if (resource === undefined) {
    const owners = writeback ? ctx.wbOwner : ctx.owner;
    const rt = ctx.rt;
    resource = {
      name: `folio ${hex(folio)} ${writeback ? 'PG_writeback' : 'PG_locked'}`,
      holders: () => {
        const task = rt.taskById(owners[folio] ?? 0);
        return task === undefined ? [] : [task];
      },
    };
    ctx.resources.set(key, resource);
  }
  return resource;
}
