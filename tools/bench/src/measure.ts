import type { BenchResult } from '@mmsim/cli';

export type { BenchResult };

/**
 * Runs `body(n)` (which performs n operations) with growing n until one call takes at
 * least `minMs`, then takes the best of `samples` calls at that size. Returns operations
 * per second. The best sample is the least disturbed by the rest of the machine.
 */
export function opsPerSecond(body: (n: number) => void, minMs = 200, samples = 5) {
  let n = 1000;
  for (;;) {
    const ms = time(() => body(n));
    if (ms >= minMs || n >= 1e9) break;
    n = Math.ceil(n * Math.min(10, Math.max(2, (minMs * 1.2) / Math.max(ms, 0.01))));
  }
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < samples; i++)
    best = Math.min(
      best,
      time(() => body(n)),
    );
  return { opsPerSec: (n / best) * 1000, ops: n, bestMs: best, samples };
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Heap in use plus typed-array backing stores, after a full collection. */
export function liveBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run node with --expose-gc to measure memory');
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
