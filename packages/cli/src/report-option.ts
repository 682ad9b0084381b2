import type { Kernel, KernelConfig } from '@mmsim/kernel';
import { type ReportData, RunRecorder, renderReport } from '@mmsim/report';
import { VmStat } from '@mmsim/runtime';
import { instantiateScenario, type Scenario } from '@mmsim/scenarios';
import type { CliIo } from './io.js';

/** Help text of the `--report` option of run, explore and replay. */
export const REPORT_HELP =
  'write one self-contained HTML report (wait-for graph, per-CPU schedule lanes, charts)';

/** Writes a report file. */
export function writeReport(io: CliIo, path: string, data: ReportData): void {
  const file = io.openOutput(path);
  try {
    file.write(renderReport(data));
  } finally {
    file.close();
  }
}

/** The counters a run report draws, read from the machine. */
export function runCounters(kernel: Kernel) {
  const tlb = kernel.vm.tlbStats;
  const vmstat = kernel.vmstat;
  // Resolved once: the counters are read every few steps.
  const success = VmStat.itemId('pgmigrate_success').id;
  const fail = VmStat.itemId('pgmigrate_fail').id;
  return () => ({
    ipis: tlb.ipisSent,
    flushes: tlb.shootdowns + tlb.localFlushAll + tlb.localFlushOne,
    shootdowns: tlb.shootdowns,
    migrated: vmstat.vmEvent(success),
    failed: vmstat.vmEvent(fail),
  });
}

/** The recorder of a `run --report`: steps, and the counters the charts draw. */
export function runRecorder(kernel: Kernel): RunRecorder {
  return new RunRecorder(kernel.rt, { counters: runCounters(kernel) });
}

/** The CPUs of the machine a scenario builds (the lanes of an explore report). */
export function machineCpus(scenario: Scenario, config: Partial<KernelConfig>): number[] {
  return instantiateScenario(scenario, config).kernel.rt.cpus.map((c) => c.id);
}
