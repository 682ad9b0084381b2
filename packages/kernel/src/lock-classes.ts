import { type Folio, folioIndex, type PhysicalMemory } from '@mmsim/folio';
import { folioAddressSpace } from '@mmsim/rmap';
import type { LOCK_CLASS_MODES } from './config-schema.js';

/** How the page-lock dependency checker names the lock class of a folio. */
export type LockClassMode = (typeof LOCK_CLASS_MODES)[number];

/**
 * The `classOf` the kernel gives the page-lock dependency checker.
 *
 * - `'folio'`: one class per frame (`folio 0x1200`), the checker's own default. Frames are
 *   reused, so over a long run two unrelated folios can share a class.
 * - `'page-cache-index'` (the kernel's default): a page-cache folio is named by what it
 *   caches, `backing.img[3]`, at the time it is locked; anything else (anonymous memory, a
 *   freshly allocated migration destination, a movable page) by its frame. A folio that
 *   migration replaces keeps its class, so a lock order seen before a migration still
 *   counts after it, as lockdep's classes outlive instances; and a frame freed and
 *   reused for another file gets that file's class.
 */
export function lockClassOf(mem: PhysicalMemory, mode: LockClassMode): (folio: Folio) => string {
  if (mode === 'folio') return frameClass;
  return (folio: Folio): string => {
    const as = folioAddressSpace(mem, folio);
    return as === null ? frameClass(folio) : cacheIndexClass(as.name, folioIndex(mem, folio));
  };
}

/*
 * A class is a pure function of a frame, or of a file name and an index, and the checker
 * asks for one at every lock and wait: the names are kept, shared by every machine (an
 * explorer builds one per schedule, each locking the same few folios), in tables of bounded
 * size (frames and indices below CLASS_CACHE_LIMIT, at most CLASS_CACHE_LIMIT file names
 * before the table is emptied).
 */
const CLASS_CACHE_LIMIT = 1 << 16;
const frameClasses: string[] = [];
const indexClasses = new Map<string, string[]>();

/** `folio 0x1200`: the class of a frame. */
function frameClass(folio: Folio): string {
  if (!(folio >= 0 && folio < CLASS_CACHE_LIMIT)) return `folio 0x${folio.toString(16)}`;
  let name = frameClasses[folio];
  if (name === undefined) {
    name = `folio 0x${folio.toString(16)}`;
    frameClasses[folio] = name;
  }
  return name;
}

/** `backing.img[3]`: the class of what a page-cache folio caches. */
function cacheIndexClass(file: string, index: number): string {
  if (!(index >= 0 && index < CLASS_CACHE_LIMIT && Number.isInteger(index))) {
    return `${file}[${index}]`;
  }
  let names = indexClasses.get(file);
  if (names === undefined) {
    if (indexClasses.size >= CLASS_CACHE_LIMIT) indexClasses.clear();
    names = [];
    indexClasses.set(file, names);
  }
  let name = names[index];
  if (name === undefined) {
    name = `${file}[${index}]`;
    names[index] = name;
  }
  return name;
}
