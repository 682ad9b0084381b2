import type { Finding, StepRecord } from '@mmsim/explore';
import type { Kernel, KernelConfig } from '@mmsim/kernel';
import {
  type CompareRow,
  cycleGraph,
  type EventFormatter,
  type ReportData,
  type ReportSummary,
  RunRecorder,
  renderReport,
  reportSteps,
} from '@mmsim/report';
import { type DeadlockReport, VmStat } from '@mmsim/runtime';
import { instantiateScenario, type Scenario } from '@mmsim/scenarios';
import type { CliIo } from './io.js';

/** Help text of the `--report` option of run, explore, replay and compare. */
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

/** The recorder of a `run --report`: steps, and the counters the charts draw. */
export function runRecorder(kernel: Kernel): RunRecorder {
  const tlb = kernel.vm.tlbStats;
  const vmstat = kernel.vmstat;
  // Resolved once: the counters are read every few steps.
  const success = VmStat.itemId('pgmigrate_success').id;
  const fail = VmStat.itemId('pgmigrate_fail').id;
  return new RunRecorder(kernel.rt, {
    counters: () => ({
      ipis: tlb.ipisSent,
      flushes: tlb.shootdowns + tlb.localFlushAll + tlb.localFlushOne,
      migrated: vmstat.vmEvent(success),
      failed: vmstat.vmEvent(fail),
    }),
  });
}

/** What `run` knows at its end, for its report. */
export interface RunReportInput {
  readonly summary: ReportSummary;
  readonly kernel: Kernel;
  readonly recorder: RunRecorder;
  readonly deadlock: DeadlockReport | null;
  readonly hasFinding: boolean;
  readonly delta: readonly (readonly [string, number])[];
  readonly virtualTimeNs: number;
}

/** The report of one `run`: lanes always, the cycle when it deadlocked, charts when it found nothing. */
export function runReportData(input: RunReportInput): ReportData {
  const { kernel, recorder } = input;
  input.recorder.sample();
  const tlb = kernel.vm.tlbStats;
  const get = (name: string) => input.delta.find(([n]) => n === name)?.[1] ?? 0;
  return {
    summary: input.summary,
    cpus: kernel.rt.cpus.map((c) => c.id),
    cycle: input.deadlock === null ? null : cycleGraph(input.deadlock),
    steps: recorder.steps(),
    totalSteps: recorder.totalSteps,
    metrics: input.hasFinding
      ? null
      : {
          ipis: tlb.ipisSent,
          flushes: tlb.shootdowns + tlb.localFlushAll + tlb.localFlushOne,
          shootdowns: tlb.shootdowns,
          migrated: get('pgmigrate_success'),
          failed: get('pgmigrate_fail'),
          virtualTimeNs: input.virtualTimeNs,
          vmstatDeltas: input.delta,
          series: recorder.series,
        },
    compare: null,
  };
}

/**
 * The report of an explorer's finding (`explore`, `replay`): its recorded steps, the cycle
 * of a deadlock. `cpus` are the machine's CPUs when known, else those the steps ran on.
 */
export function findingReportData(
  summary: ReportSummary,
  finding: Finding | null,
  steps: readonly StepRecord[],
  cpus?: readonly number[],
  format?: EventFormatter,
): ReportData {
  const seen = [...new Set(steps.flatMap((s) => (s.task === null ? [] : [s.task.cpu])))].sort(
    (a, b) => a - b,
  );
  return {
    summary,
    cpus: cpus ?? seen,
    cycle: finding?.kind === 'deadlock' ? cycleGraph(finding.deadlock) : null,
    steps: reportSteps(steps, format),
    totalSteps: steps.length,
    metrics: null,
    compare: null,
  };
}

/** The report of `mmsim compare`. */
export function compareReportData(summary: ReportSummary, rows: readonly CompareRow[]): ReportData {
  return { summary, cpus: [], cycle: null, steps: [], totalSteps: 0, metrics: null, compare: rows };
}

/** The CPUs of the machine a scenario builds (the lanes of an explore report). */
export function machineCpus(scenario: Scenario, config: Partial<KernelConfig>): number[] {
  return instantiateScenario(scenario, config).kernel.rt.cpus.map((c) => c.id);
}
