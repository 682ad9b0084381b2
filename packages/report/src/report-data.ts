/**
 * What a report shows, as plain data: the page embeds it as JSON and draws it in the
 * browser. Everything is built from what the runtime and the explorer already record
 * (`DeadlockReport`, `StepRecord`, vmstat and TLB counters); nothing here is kernel state.
 */

/** The header of every report. */
export interface ReportSummary {
  /** The command that made the report: `run`, `explore`, `replay` or `compare`. */
  readonly command: string;
  readonly scenario: string;
  readonly title?: string;
  readonly variant: string;
  readonly seed: number | null;
  /** How the run ended (`completed`, `deadlock`, ...) or what the search found. */
  readonly status: string;
  /** A command that reproduces the run, or null when there is none. */
  readonly replayCommand: string | null;
  /** One line: the finding, or that nothing was found. */
  readonly finding: string | null;
  /** The finding as the terminal prints it (numbered steps and all). */
  readonly findingText?: string;
}

/** A task of the wait-for cycle: where it sleeps, on what, and what it holds. */
export interface CycleTask {
  readonly id: number;
  readonly name: string;
  readonly cpu: number;
  /** The kernel function the task sleeps in (`folio_lock`, `mutex_lock`, ...). */
  readonly waitsIn: string;
  /** The resource it waits for. */
  readonly waitsFor: string;
  /** Resources this task holds that another task of the cycle waits for. */
  readonly holds: readonly string[];
}

/** An edge of the wait-for graph: `from` waits for `resource`, which `to` holds. */
export interface CycleEdge {
  readonly from: number;
  readonly to: number;
  readonly resource: string;
}

export interface CycleGraph {
  readonly tasks: readonly CycleTask[];
  readonly edges: readonly CycleEdge[];
}

/** One tracepoint a step emitted, already formatted. */
export interface ReportEvent {
  readonly name: string;
  /** Virtual time in ns. */
  readonly ts: number;
  readonly text: string;
}

/** One scheduling step, as a lane shows it and its detail panel lists it. */
export interface ReportStep {
  readonly step: number;
  /** Task id, name and CPU; null when the runtime did not say which task threw. */
  readonly task: { readonly id: number; readonly name: string; readonly cpu: number } | null;
  readonly outcome: string;
  readonly decision: boolean;
  readonly preemption: boolean;
  readonly waitsIn?: string;
  readonly resource?: string;
  readonly heldBy?: readonly string[];
  readonly took: readonly string[];
  readonly released: readonly string[];
  readonly handedOver: readonly string[];
  /** Tasks this step woke (from its `sched_wakeup` tracepoints). */
  readonly woke: readonly string[];
  readonly events: readonly ReportEvent[];
}

/** Counters of a run sampled over virtual time (cumulative values). */
export interface RunSeries {
  /** Virtual time in microseconds of each sample. */
  readonly timeUs: readonly number[];
  readonly ipis: readonly number[];
  readonly flushes: readonly number[];
  readonly migrated: readonly number[];
  readonly failed: readonly number[];
}

/** The figures of a run without a finding. */
export interface RunMetrics {
  readonly ipis: number;
  readonly flushes: number;
  readonly shootdowns: number;
  readonly migrated: number;
  readonly failed: number;
  readonly virtualTimeNs: number;
  readonly vmstatDeltas: readonly (readonly [string, number])[];
  readonly series: RunSeries;
}

/** One variant's run in `mmsim compare`. */
export interface CompareRow {
  readonly variant: string;
  readonly status: string;
  readonly ipis: number;
  readonly flushes: number;
  readonly migrated: number;
  readonly failed: number;
  readonly virtualTimeNs: number;
  /** Pages migrated per second of virtual time. */
  readonly pagesPerVirtualSecond: number;
}

export interface ReportData {
  readonly summary: ReportSummary;
  /** The CPUs of the machine (one lane each); empty when no run was recorded. */
  readonly cpus: readonly number[];
  /** The wait-for cycle, or null when the run has none. */
  readonly cycle: CycleGraph | null;
  readonly steps: readonly ReportStep[];
  /** Steps run in total (more than `steps.length` when only the last ones were kept). */
  readonly totalSteps: number;
  readonly metrics: RunMetrics | null;
  readonly compare: readonly CompareRow[] | null;
}
