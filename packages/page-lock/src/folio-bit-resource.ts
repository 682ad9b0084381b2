import type { Folio } from '@mmsim/folio';
import type { Resource, Runtime, Task } from '@mmsim/runtime';
import { hex } from './folio-hex.js';
import type { PageLockState } from './page-lock-state.js';

/** The Resource a waiter of a folio bit sleeps on: its holder is the owner of the bit. */
export function folioBitResource(ctx: PageLockState, folio: Folio, writeback: boolean): Resource {
  const key = folio * 2 + (writeback ? 1 : 0);
  let resource = ctx.resources.get(key);
  if (resource === undefined) {
    resource = new FolioBitResource(ctx.rt, writeback ? ctx.wbOwner : ctx.owner, folio, writeback);
    ctx.resources.set(key, resource);
  }
  return resource;
}

/**
 * The Resource of a folio's PG_locked or PG_writeback: one object per contended bit (it was
 * an object literal with a `holders` closure and a name string made up front, three objects
 * for each folio a machine's tasks sleep on). The name is made when read (a report or a
 * step record); a class with its members on the prototype, as `BhLockResource`.
 */
class FolioBitResource implements Resource {
  readonly #rt: Runtime;
  readonly #owners: Int32Array;
  readonly #folio: Folio;
  readonly #writeback: boolean;

  constructor(rt: Runtime, owners: Int32Array, folio: Folio, writeback: boolean) {
    this.#rt = rt;
    this.#owners = owners;
    this.#folio = folio;
    this.#writeback = writeback;
  }

  get name(): string {
    return `folio ${hex(this.#folio)} ${this.#writeback ? 'PG_writeback' : 'PG_locked'}`;
  }

  holders(): readonly Task[] {
    const task = this.#rt.taskById(this.#owners[this.#folio] ?? 0);
    return task === undefined ? [] : [task];
  }
}
