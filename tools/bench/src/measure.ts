import type { BenchResult } from '@mmsim/cli';
import { Bench } from 'tinybench';

export type { BenchResult };

/**
 * Operations per second of `body(n)`, which performs n operations. The batch size n grows
 * until one call takes at least `minMs`; then tinybench runs `samples` timed calls at that
 * size (after a warm-up) and the fastest call gives the figure: the least disturbed by the
 * rest of the machine.
 */
export function opsPerSecond(body: (n: number) => void, minMs = 200, samples = 5) {
  let n = 1000;
  for (;;) {
    const ms = time(() => body(n));
    if (ms >= minMs || n >= 1e9) break;
    n = Math.ceil(n * Math.min(10, Math.max(2, (minMs * 1.2) / Math.max(ms, 0.01))));
  }
  const bench = new Bench({ iterations: samples, time: 0, warmupIterations: 1, warmupTime: 0 });
  bench.add('batch', () => body(n));
  bench.runSync();
  const result = bench.tasks[0]?.result;
  if (result === undefined || result.state !== 'completed') {
    throw new Error(`tinybench did not complete the batch (${result?.state ?? 'no result'})`);
  }
  const best = result.latency.min;
  return {
    opsPerSec: (n / best) * 1000,
    ops: n,
    bestMs: best,
    samples: result.latency.samplesCount,
  };
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
