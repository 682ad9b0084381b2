import { folioAlloc, setAllocFailureHook, ZONE_MOVABLE, ZONE_NORMAL } from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { kcompactdDoWork, wakeupKcompactd } from '../src/index.js';

/** One node of 4096 pages, the top 2048 ZONE_MOVABLE; the compaction lines it traces. */
function twoZones(): { k: Kernel; lines: string[] } {
  const k = createKernel({
    nodes: [{ pages: 4096, movablePages: 2048 }],
    cpusPerNode: 2,
    variant: 'v6.3',
    zeroPage: false,
  });
  const lines: string[] = [];
  for (const name of [
    'mm_compaction_wakeup_kcompactd',
    'mm_compaction_kcompactd_wake',
    'mm_compaction_suitable',
    'mm_compaction_begin',
  ]) {
    k.rt.trace.on(name, (e) => lines.push(`${e.name}: ${k.rt.trace.formatFields(e)}`));
  }
  return { k, lines };
}

/** The zones of the `mm_compaction_suitable` lines since `from`. */
function zonesSince(lines: string[], from: number): string[] {
  return lines
    .slice(from)
    .filter((l) => l.startsWith('mm_compaction_suitable'))
    .map((l) => /zone=(\w+)/.exec(l)?.[1] ?? '?');
}

describe('kcompactd_highest_zoneidx (wakeup_kcompactd / kcompactd_do_work, mm/compaction.c 6.3)', () => {
  it('a kernel allocation bounds the next run to ZONE_NORMAL; the bound goes back to the node after it', () => {
    const { k, lines } = twoZones();
    const runs: string[][] = [];
    k.rt.spawn('kcompactd0', 1, function* (): KernelGen {
      wakeupKcompactd(k, 0, 2, ZONE_NORMAL);
      let from = lines.length;
      yield* kcompactdDoWork(k, 0);
      runs.push(zonesSince(lines, from));
      // reset to pgdat->nr_zones - 1, so a movable waker's run covers both zones
      wakeupKcompactd(k, 0, 2, ZONE_MOVABLE);
      from = lines.length;
      yield* kcompactdDoWork(k, 0);
      runs.push(zonesSince(lines, from));
    });
    expect(k.run().status).toBe('completed');
    expect(runs).toEqual([['Normal'], ['Normal', 'Movable']]);
    expect(
      lines.filter((l) => l.startsWith('mm_compaction_kcompactd_wake')).map((l) => l.slice(-16)),
    ).toEqual(['zoneidx=Normal  ', 'zoneidx=Movable ']);
  });

  it('the tighter of two wakers wins until the run', () => {
    const { k, lines } = twoZones();
    k.rt.spawn('kcompactd0', 1, function* (): KernelGen {
      wakeupKcompactd(k, 0, 2, ZONE_MOVABLE);
      wakeupKcompactd(k, 0, 2, ZONE_NORMAL);
      wakeupKcompactd(k, 0, 2, ZONE_MOVABLE);
      yield* kcompactdDoWork(k, 0);
    });
    expect(k.run().status).toBe('completed');
    expect(zonesSince(lines, 0)).toEqual(['Normal']);
  });

  it('the allocator passes gfp_zone: ZONE_MOVABLE for a movable allocation, ZONE_NORMAL for a kernel one', () => {
    const { k } = twoZones();
    const seen: number[] = [];
    setAllocFailureHook(k.mem, (_nid, _order, highest) => seen.push(highest));
    // no free block of order 10 on either zone once one is taken
    for (let i = 0; i < 4 && folioAlloc(k.mem, 10, 0) >= 0; i++);
    expect(folioAlloc(k.mem, 10, 0)).toBeLessThan(0);
    expect(folioAlloc(k.mem, 10, 0, { movable: false })).toBeLessThan(0);
    expect(seen.slice(-2)).toEqual([ZONE_MOVABLE, ZONE_NORMAL]);
  });
});
