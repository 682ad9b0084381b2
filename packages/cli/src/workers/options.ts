import type { ExploreShard } from '@mmsim/explore';
import { UsageError } from '../usage-error.js';
import { defaultWorkers } from './explore-pool.js';

/** `--workers N`: a positive integer; default the machine's cores. */
export function workersOption(text: string | undefined): number {
  if (text === undefined) return defaultWorkers();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 1024) {
    throw new UsageError(`--workers must be an integer from 1 to 1024; got "${text}"`);
  }
  return Number(text);
}

/** `--shard K/N` (1 <= K <= N): shard K-1 of N, 0-based as explore takes it. */
export function shardOption(text: string | undefined): ExploreShard | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const k = m === null ? Number.NaN : Number(m[1]);
  const n = m === null ? Number.NaN : Number(m[2]);
  if (!(n >= 1 && n <= 1_000_000 && k >= 1 && k <= n)) {
    throw new UsageError(
      `--shard must be K/N with 1 <= K <= N <= 1000000, e.g. 2/3; got "${text}"`,
    );
  }
  return { index: k - 1, count: n };
}

/** The `K/N` text of a shard, as `--shard` takes it. */
export function shardText(shard: ExploreShard): string {
  return `${shard.index + 1}/${shard.count}`;
}
