import {
  createPhysicalMemory,
  type Folio,
  folioAlloc,
  folioGet,
  folioPut,
  type PhysicalMemory,
} from '@mmsim/folio';
import { type BenchResult, liveBytes, opsPerSecond } from './measure.js';

const MILLION = 1_000_000;

/** Order-0 allocations and frees, with a working set so that frees do not always merge up. */
function allocFreeLoop(mem: PhysicalMemory, n: number): void {
  const ring = new Int32Array(64);
  let filled = 0;
  for (let i = 0; i < n; i++) {
    const slot = i & 63;
    if (filled > slot) folioPut(mem, ring[slot] as Folio);
    const folio = folioAlloc(mem, 0, 0);
    if (folio < 0) throw new Error('the benchmark machine ran out of memory');
    ring[slot] = folio;
    if (filled <= slot) filled = slot + 1;
  }
  for (let slot = 0; slot < filled; slot++) folioPut(mem, ring[slot] as Folio);
}

export function folioBenchmarks(): BenchResult[] {
  const small = createPhysicalMemory({ nodes: [{ pages: 1 << 16 }, { pages: 1 << 16 }] });
  const alloc = opsPerSecond((n) => allocFreeLoop(small, n));
  const folio = folioAlloc(small, 0, 0);
  const getPut = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) {
      folioGet(small, folio);
      folioPut(small, folio);
    }
  });

  // Heap per base page: the memmap for a million pages plus a million live folios.
  const before = liveBytes();
  const pages = 2 * 524_288;
  const big = createPhysicalMemory({ nodes: [{ pages: pages / 2 }, { pages: pages / 2 }] });
  const live: Folio[] = [];
  for (let i = 0; i < MILLION; i++) {
    const f = folioAlloc(big, 0, i & 1);
    if (f < 0) throw new Error('the memory benchmark machine is too small');
    live.push(f);
  }
  const after = liveBytes();
  // Both `big` and `live` are read below, so they stay reachable through the measurement.
  const perFolio = (after - before - live.length * 8) / live.length;

  return [
    {
      name: 'folio.order0_alloc_free_per_sec',
      value: alloc.opsPerSec,
      unit: 'alloc+free/s',
      better: 'higher',
      description:
        'folioAlloc(order 0) followed, 64 allocations later, by folioPut of the same folio: buddy split, free and merge on a 2-node, 128 Ki-page machine.',
      detail: { ops: alloc.ops, bestMs: alloc.bestMs },
    },
    {
      name: 'folio.get_put_per_sec',
      value: getPut.opsPerSec,
      unit: 'get+put/s',
      better: 'higher',
      description: 'folioGet + folioPut on one live folio (the refcount fast path).',
      detail: { ops: getPut.ops, bestMs: getPut.bestMs },
    },
    {
      name: 'folio.heap_bytes_per_order0_folio',
      value: perFolio,
      unit: 'bytes',
      better: 'lower',
      description:
        "Heap plus typed-array bytes per allocated order-0 folio, with 1,000,000 folios live on a machine of 1,048,576 pages (the memmap included; the benchmark's own array of folio numbers excluded).",
      detail: { folios: live.length, pages, nodes: big.nrNodes, totalBytes: after - before },
    },
  ];
}
