import type { Finding, StepRecord } from '@mmsim/explore';
import type { DeadlockReport } from '@mmsim/runtime';
import { cycleGraph } from './cycle-graph.js';
import type { CompareRow, ReportData, ReportSummary } from './report-data.js';
import { type EventFormatter, reportSteps } from './report-steps.js';
import type { RunCounters, RunRecorder } from './run-recorder.js';

/** What a run knows at its end, for its report. */
export interface RunReportInput {
  readonly summary: ReportSummary;
  /** The machine's CPU ids: one lane each. */
  readonly cpus: readonly number[];
  readonly recorder: RunRecorder;
  /** The runtime's report when the run deadlocked. */
  readonly deadlock: DeadlockReport | null;
  /** Whether the run had a finding (then no charts: the report is about the finding). */
  readonly hasFinding: boolean;
  /** Totals at the end (TLB flushes counted as shootdowns plus local flushes). */
  readonly totals: RunCounters & { readonly shootdowns: number };
  readonly vmstatDeltas: readonly (readonly [string, number])[];
  readonly virtualTimeNs: number;
}

/** The report of one run: lanes always, the cycle when it deadlocked, charts when it found nothing. */
export function reportOfRun(input: RunReportInput): ReportData {
  const { recorder, totals } = input;
  recorder.sample();
  return {
    summary: input.summary,
    cpus: input.cpus,
    cycle: input.deadlock === null ? null : cycleGraph(input.deadlock),
    steps: recorder.steps(),
    totalSteps: recorder.totalSteps,
    metrics: input.hasFinding
      ? null
      : {
          ipis: totals.ipis,
          flushes: totals.flushes,
          shootdowns: totals.shootdowns,
          migrated: totals.migrated,
          failed: totals.failed,
          virtualTimeNs: input.virtualTimeNs,
          vmstatDeltas: input.vmstatDeltas,
          series: recorder.series,
        },
    compare: null,
  };
}

/**
 * The report of an explorer's finding (`explore`, `replay`): its recorded steps and, for
 * a deadlock, the wait-for cycle. `cpus` are the machine's CPUs; without them, those the
 * steps ran on.
 */
export function reportOfFinding(
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

/** The report of a comparison of variants: one row per variant, drawn side by side. */
export function reportOfComparison(
  summary: ReportSummary,
  rows: readonly CompareRow[],
): ReportData {
  return { summary, cpus: [], cycle: null, steps: [], totalSteps: 0, metrics: null, compare: rows };
}
