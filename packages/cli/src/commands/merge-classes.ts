import { UsageError } from '../usage-error.js';

/**
 * The `classSet` field of `mmsim explore --strategy dpor --shard K/N --json` (N > 1): the
 * interleaving classes the shard covered, so that `mmsim merge` can count the classes of the
 * whole search exactly (two shards can meet one class; their counts only add up to a bound).
 *
 * Encoding: the classes' 53-bit hashes (`ExploreResult.classHashes`, the hash of each class's
 * Foata normal form, `runClassHash`) in ascending order, each written as its difference from
 * the one before (the first as is) in unsigned LEB128 (7 bits a byte, low bits first, the top
 * bit set on every byte but a number's last), the bytes in base64. A difference takes about
 * 53 - log2(classes) bits, so 6 bytes (8 base64 characters) a class for a search of some
 * thousands of classes and more: loop-writeback-deadlock v6.3 at dpor:2, 61,658 classes,
 * writes about 0.5 MB of it over its shards.
 */

/** The largest class hash (53 bits). */
const MAX_HASH = 2 ** 53 - 1;

/** The `classSet` text of class hashes (any order, each an integer 0 … 2^53 - 1). */
export function encodeClassSet(hashes: Iterable<number>): string {
  const sorted = Float64Array.from(hashes).sort();
  const bytes: number[] = [];
  let previous = 0;
  for (let i = 0; i < sorted.length; i++) {
    const h = sorted[i] as number;
    if (i > 0 && h === previous) continue;
    let gap = h - previous;
    previous = h;
    while (gap >= 128) {
      bytes.push((gap % 128) | 128);
      gap = Math.floor(gap / 128);
    }
    bytes.push(gap);
  }
  return Buffer.from(bytes).toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The class hashes of a `classSet` field read from `path` (ascending). Anything but the
 * encoding above (not a string, not base64, a number cut short or beyond 53 bits, a hash not
 * above the one before) is a one-line `UsageError` naming the file.
 */
export function decodeClassSet(value: unknown, path: string): number[] {
  const bad = (why: string) =>
    new UsageError(`${path}: classSet is not a class set of mmsim explore --json (${why})`);
  if (typeof value !== 'string') throw bad(`a ${value === null ? 'null' : typeof value}`);
  if (!BASE64.test(value)) throw bad('not base64');
  const bytes = Buffer.from(value, 'base64');
  const hashes: number[] = [];
  let previous = 0;
  let gap = 0;
  let scale = 1;
  for (const byte of bytes) {
    gap += (byte & 127) * scale;
    if (gap > MAX_HASH) throw bad('a hash beyond 53 bits');
    if (byte >= 128) {
      scale *= 128;
      if (scale > MAX_HASH) throw bad('a hash beyond 53 bits');
      continue;
    }
    if (hashes.length > 0 && gap === 0) throw bad('a hash twice');
    previous += gap;
    if (previous > MAX_HASH) throw bad('a hash beyond 53 bits');
    hashes.push(previous);
    gap = 0;
    scale = 1;
  }
  if (scale !== 1) throw bad('cut short');
  return hashes;
}

/** What a shard's result or campaign cell says of its classes (`classes`, `classSet`). */
export interface ShardClasses {
  /** DFS / DPOR: interleaving classes covered; else null or absent. */
  readonly classes?: number | null;
  /** A shard of N > 1: the classes as `encodeClassSet` wrote them; absent in older versions. */
  readonly classSet?: string;
}

/**
 * The interleaving classes of the shards together: exactly the size of the union of their
 * class sets (`classSet`) when every shard has one and one shard alone is exact; else an upper
 * bound: the union of the sets given plus the counts of the shards without one. Null when a
 * shard counts no classes (not DFS or DPOR). A malformed or miscounted set is a `UsageError`
 * naming the shard's file (`paths[i]`).
 */
export function mergedClasses(
  shards: readonly ShardClasses[],
  paths: readonly string[],
): { classes: number | null; exact: boolean } {
  if (!shards.every((r) => typeof r.classes === 'number')) return { classes: null, exact: false };
  const union = new Set<number>();
  let unknown = 0;
  shards.forEach((r, i) => {
    if (!('classSet' in r)) {
      unknown += r.classes as number;
      return;
    }
    const path = paths[i] as string;
    const hashes = decodeClassSet(r.classSet, path);
    if (hashes.length !== r.classes) {
      throw new UsageError(
        `${path}: classSet holds ${hashes.length} classes but classes is ${r.classes}`,
      );
    }
    for (const h of hashes) union.add(h);
  });
  return { classes: union.size + unknown, exact: unknown === 0 || shards.length === 1 };
}
