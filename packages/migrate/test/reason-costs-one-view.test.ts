import { VmEvent, VmStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MR_COMPACTION, MR_SYSCALL, ReasonCosts } from '../src/index.js';

/**
 * `ReasonCosts` keeps its seven columns in one view of one buffer and makes a column's own
 * view only when it is read. What the engines write (`end`, `retry`) must land in the
 * column and reason it belongs to, whichever way it is read back.
 */
const STATS = {
  nrSucceeded: 5,
  nrFailedPages: 3,
  nrThpSucceeded: 0,
  nrThpFailed: 0,
  nrThpSplit: 2,
  nrSplit: 0,
};

function oneCall(costs: ReasonCosts, vmstat: VmStat): void {
  const mark = costs.ipiMark(vmstat);
  vmstat.countVmEvents(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED, 4);
  costs.retry(MR_SYSCALL);
  costs.retry(MR_SYSCALL);
  costs.end(MR_SYSCALL, STATS, 700, mark, vmstat);
}

describe('ReasonCosts in one view', () => {
  it('each column reads back what end() and retry() wrote, for that reason only', () => {
    const costs = new ReasonCosts();
    // A column read before the call sees what the call writes (the views share the buffer).
    const calls = costs.calls;
    oneCall(costs, new VmStat(1));
    expect(costs.calls).toBe(calls);
    const columns = [
      costs.calls,
      costs.ns,
      costs.succeeded,
      costs.failed,
      costs.split,
      costs.ipis,
      costs.retries,
    ];
    expect(columns.map((c) => c[MR_SYSCALL])).toEqual([1, 700, 5, 3, 2, 4, 2]);
    expect(columns.map((c) => c[MR_COMPACTION])).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(costs.table()).toEqual([
      {
        reason: 'syscall_or_cpuset',
        calls: 1,
        ns: 700,
        succeeded: 5,
        failed: 3,
        split: 2,
        ipis: 4,
        retries: 2,
      },
    ]);
  });

  it("a machine's buffer holds the columns: a second ReasonCosts on it reads them", () => {
    const buffer = new ArrayBuffer(ReasonCosts.BYTES);
    oneCall(new ReasonCosts(buffer), new VmStat(1));
    const again = new ReasonCosts(buffer);
    expect(again.table().map((r) => [r.reason, r.calls, r.retries])).toEqual([
      ['syscall_or_cpuset', 1, 2],
    ]);
    expect(again.retries[MR_SYSCALL]).toBe(2);
    expect(new ReasonCosts(new ArrayBuffer(ReasonCosts.BYTES)).table()).toEqual([]);
  });
});
