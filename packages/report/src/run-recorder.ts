import { type StepRecord, StepRecordBuilder } from '@mmsim/explore';
import type { Runtime, Task } from '@mmsim/runtime';
import type { ReportStep, RunSeries } from './report-data.js';
import { reportSteps } from './report-steps.js';

/** The counters a run report samples (cumulative values read from the machine). */
export interface RunCounters {
  readonly ipis: number;
  readonly flushes: number;
  readonly migrated: number;
  readonly failed: number;
}

export interface RunRecorderOptions {
  /** Keep at most this many steps, the last ones (a long run's lanes show its end). */
  readonly maxSteps?: number;
  /** Reads the counters the charts draw; sampled every `sampleEvery` steps. */
  readonly counters?: () => RunCounters;
  readonly sampleEvery?: number;
}

/** Steps a report keeps by default: enough for every finding, bounded for long runs. */
export const DEFAULT_REPORT_STEPS = 4000;

/**
 * Records one run for a report: what each step did (the explorer's `StepRecordBuilder`:
 * tracepoints, locks taken / released / handed over, where the task went to sleep), the
 * last `maxSteps` of them, and the counters over virtual time. Create it once the runtime
 * exists and call `stepped` from the runtime's `onStep` hook; it costs nothing when no
 * report is asked for, since it is then never created.
 */
export class RunRecorder {
  readonly #rt: Runtime;
  readonly #steps: StepRecord[] = [];
  readonly #builder: StepRecordBuilder;
  readonly #max: number;
  readonly #counters: (() => RunCounters) | null;
  readonly #every: number;
  #total = 0;
  readonly #series = {
    timeUs: [] as number[],
    ipis: [] as number[],
    flushes: [] as number[],
    migrated: [] as number[],
    failed: [] as number[],
  };

  constructor(rt: Runtime, options: RunRecorderOptions = {}) {
    this.#rt = rt;
    this.#builder = new StepRecordBuilder(rt);
    this.#max = options.maxSteps ?? DEFAULT_REPORT_STEPS;
    this.#counters = options.counters ?? null;
    this.#every = options.sampleEvery ?? 50;
  }

  /** The runtime's `onStep` hook. */
  stepped(task: Task, step: number): void {
    this.#total = step;
    this.#steps.push(this.#builder.record(task, step));
    const steps = this.#steps;
    if (steps.length >= 2 * this.#max) steps.splice(0, steps.length - this.#max);
    if (step % this.#every === 0) this.sample();
  }

  /** Samples the counters now (also called at the end of the run). */
  sample(): void {
    if (this.#counters === null) return;
    const c = this.#counters();
    const s = this.#series;
    s.timeUs.push(Math.max(...this.#rt.cpus.map((cpu) => cpu.clock)) / 1000);
    s.ipis.push(c.ipis);
    s.flushes.push(c.flushes);
    s.migrated.push(c.migrated);
    s.failed.push(c.failed);
  }

  /** Steps run so far. */
  get totalSteps(): number {
    return this.#total;
  }

  /** The kept steps, formatted with the runtime's TP_printk formats. */
  steps(): ReportStep[] {
    const all = this.#steps;
    const kept = all.length > this.#max ? all.slice(all.length - this.#max) : all;
    return reportSteps(kept, (e) => this.#rt.trace.formatFields(e));
  }

  get series(): RunSeries {
    return this.#series;
  }
}
