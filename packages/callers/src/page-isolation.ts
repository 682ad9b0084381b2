import { testPagesIsolatedScan } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { EBUSY, type Runtime, type Tracepoint, traceEvent } from '@mmsim/runtime';

/** `test_pages_isolated` (include/trace/events/page_isolation.h, 6.3). */
export interface TestPagesIsolated {
  readonly start_pfn: number;
  readonly end_pfn: number;
  readonly fin_pfn: number;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** `start_pfn=0x200 end_pfn=0x400 fin_pfn=0x400 ret=success`. */
export const TEST_PAGES_ISOLATED = traceEvent<TestPagesIsolated>(
  'test_pages_isolated',
  (f) =>
    `start_pfn=${hex(f.start_pfn)} end_pfn=${hex(f.end_pfn)} fin_pfn=${hex(f.fin_pfn)} ret=${f.end_pfn <= f.fin_pfn ? 'success' : 'fail'}`,
);

/**
 * `test_pages_isolated(start_pfn, end_pfn, isol_flags)` (mm/page_isolation.c, 6.3): 0 when
 * every pageblock of the range is isolated and every page is free in the buddy (with
 * MEMORY_OFFLINE: or PG_hwpoison, or offline), else -EBUSY; always fires the
 * `test_pages_isolated` tracepoint with the pfn where the check stopped. The scan itself
 * is `testPagesIsolatedScan` of @mmsim/folio.
 */
export function testPagesIsolated(k: Kernel, start: number, end: number, flags: number): number {
  const fin = testPagesIsolatedScan(k.mem, start, end, flags);
  const tp = testPagesIsolatedTracepoint(k.rt);
  if (tp.enabled) tp.emit({ start_pfn: start, end_pfn: end, fin_pfn: fin });
  return fin < end ? -EBUSY : 0;
}

const perRuntime = new WeakMap<Runtime, Tracepoint<TestPagesIsolated>>();

function testPagesIsolatedTracepoint(rt: Runtime): Tracepoint<TestPagesIsolated> {
  let tp = perRuntime.get(rt);
  if (tp === undefined) {
    tp = rt.trace.define(TEST_PAGES_ISOLATED);
    perRuntime.set(rt, tp);
  }
  return tp;
}
