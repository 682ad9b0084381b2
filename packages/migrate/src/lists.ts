import { type Folio, FolioList, folioOnList, type PhysicalMemory } from '@mmsim/folio';

/**
 * The list_head operations of mm/migrate.c that name only the entry (the kernel does not
 * need the list head to unlink): on `FolioList`, which records the list a folio is on.
 */

/** `list_del(&folio->lru)`: take the folio off whatever list it is on (none: nothing). */
export function listDel(mem: PhysicalMemory, folio: Folio): void {
  folioOnList(mem, folio)?.del(folio);
}

/** `list_move_tail(&folio->lru, list)`. */
export function listMoveTail(mem: PhysicalMemory, folio: Folio, list: FolioList): void {
  const on = folioOnList(mem, folio);
  if (on === null) list.addTail(folio);
  else on.moveToTail(folio, list);
}

/**
 * `list_add(&folio->lru, prev)` where `prev` is an entry of `list` (or -1 for the list
 * head): insert `folio` right after `prev`.
 */
export function listAddAfter(list: FolioList, folio: Folio, prev: Folio): void {
  const next = prev < 0 ? list.first() : list.next(prev);
  if (next < 0) list.addTail(folio);
  else list.addBefore(folio, next);
}

/**
 * `list_cut_before(list, head, entry)`: move the entries of `head` before `entry` (all of
 * them when `entry` is -1, the head itself) to the empty `list`, in order.
 */
export function listCutBefore(list: FolioList, head: FolioList, entry: Folio): void {
  if (entry < 0) {
    head.spliceInit(list);
    return;
  }
  for (let f = head.first(); f >= 0 && f !== entry; f = head.first()) head.moveToTail(f, list);
}

/** A new empty list of `mem` (`LIST_HEAD(name)`). */
export function listHead(mem: PhysicalMemory): FolioList {
  return new FolioList(mem);
}
