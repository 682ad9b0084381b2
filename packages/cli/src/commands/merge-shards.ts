import { UsageError } from '../usage-error.js';

/** A shard `K/N` as a result file records it (`null`: an unsharded run, shard 1/1). */
export function parseShard(shard: string | null, path: string): { k: number; n: number } {
  if (shard === null) return { k: 1, n: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(shard);
  if (m === null) throw new UsageError(`${path}: shard must be K/N; got ${JSON.stringify(shard)}`);
  return { k: Number(m[1]), n: Number(m[2]) };
}

/**
 * The shard check that `mmsim merge` makes for explore results and campaign reports alike:
 * every file is a shard of the same N as the first file, no shard comes twice, and
 * `complete()` finds none of 1/N … N/N missing. Each failure is a `UsageError` naming the file.
 */
export class ShardSet {
  readonly n: number;
  readonly #firstPath: string;
  readonly #seen = new Map<number, string>();

  constructor(firstShard: string | null, firstPath: string) {
    this.n = parseShard(firstShard, firstPath).n;
    this.#firstPath = firstPath;
  }

  /** Records the shard of the file at `path`. */
  add(shard: string | null, path: string): void {
    const s = parseShard(shard, path);
    if (s.n !== this.n) {
      throw new UsageError(
        `${path}: shard ${shard} is not one of ${this.n} like ${this.#firstPath}`,
      );
    }
    const other = this.#seen.get(s.k);
    if (other !== undefined)
      throw new UsageError(`${path}: shard ${s.k}/${this.n} again (also ${other})`);
    this.#seen.set(s.k, path);
  }

  /** Throws if a shard of 1/N … N/N was not added. */
  complete(): void {
    const absent = Array.from({ length: this.n }, (_, i) => i + 1).filter(
      (k) => !this.#seen.has(k),
    );
    if (absent.length > 0) {
      throw new UsageError(`shard(s) ${absent.map((k) => `${k}/${this.n}`).join(', ')} missing`);
    }
  }
}
