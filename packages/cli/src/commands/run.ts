import { KERNEL_VARIANT_NAMES, type KernelConfig, type VariantName } from '@mmsim/kernel';
import type { MigrateVariant, ReasonCosts } from '@mmsim/migrate';
import { formatInversion } from '@mmsim/page-lock';
import { reportOfRun } from '@mmsim/report';
import { decodeReplayToken, formatDeadlock, MmsimError, type RunResult } from '@mmsim/runtime';
import { instantiateScenario } from '@mmsim/scenarios';
import {
  attachChromeTraceSink,
  attachFtraceSink,
  formatNodeVmstat,
  formatVmstat,
  vmstatDelta,
} from '@mmsim/trace';
import { costsOption, withCostProfile } from '../costs-option.js';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import type { CliIo, OutputFile } from '../io.js';
import { nodeVmstatPath } from '../node-vmstat-path.js';
import { programExpectationFinding } from '../program-finding.js';
import { encodeRunTokenMeta, replayCommandLine } from '../replay-line.js';
import { runCounters, runRecorder, writeReport } from '../report-option.js';
import { chooseVariant, resolveScenario } from '../resolve-scenario.js';
import { intOption, runStrategy } from '../strategy-option.js';
import { TimeBudgetExceeded, timeBudgetOption, timeBudgetWatch } from '../time-budget.js';
import { UsageError } from '../usage-error.js';
import { isVariantFile, variantIdentity, variantNameOf, variantOption } from '../variant-file.js';
import { formatMachineLine } from './machine-line.js';
import { formatReasonCosts } from './reason-costs.js';

export interface RunCommandOptions {
  readonly variant?: string;
  readonly seed?: string;
  readonly strategy?: string;
  readonly json?: boolean;
  readonly trace?: string;
  readonly ftrace?: string;
  readonly vmstat?: string;
  /** Write an HTML report of the run to this file. */
  readonly report?: string;
  /** Directory for the per-node vmstat files: `<dir>/node<N>/vmstat`. */
  readonly nodeVmstat?: string;
  /** End the run (status step-limit) after this many scheduling points. */
  readonly maxSteps?: string;
  /** Stop after this many wall-clock seconds (status time-budget). */
  readonly timeBudget?: string;
  /** Internal: replay this token (from a previous `mmsim run`) instead of a fresh schedule. */
  readonly replayToken?: string;
  /** Write the replay token to this file; the printed command reads it from there. */
  readonly tokenFile?: string;
  /** `--costs NAME`: a cost profile (cost-profiles.ts in @mmsim/runtime) under the scenario's costs. */
  readonly costs?: string;
}

/** Prefix of the meta that `mmsim run` writes into its replay tokens. */
export const RUN_META_PREFIX = 'mmsim-run:';

/** Errors of a replayed run that mean the token does not fit the scenario. */
const REPLAY_MISUSE: ReadonlySet<string> = new Set(['REPLAY_DIVERGED', 'INVALID_REPLAY_TOKEN']);

/** What `run` found, if anything. */
export interface RunFinding {
  readonly kind: 'deadlock' | 'invariant' | 'inversion' | 'step-limit' | 'crash' | 'expectation';
  readonly message: string;
  readonly report: string;
}

export function checkVariant(text: string | undefined): VariantName | MigrateVariant | undefined {
  if (text === undefined) return undefined;
  // A variant file or module: a custom variant (see variant-file.ts).
  if (isVariantFile(text)) return variantOption(text);
  if (!(KERNEL_VARIANT_NAMES as readonly string[]).includes(text)) {
    throw new UsageError(
      `--variant must be one of ${KERNEL_VARIANT_NAMES.join(', ')} or a variant file (.json, .yaml, .mjs, .js, .ts); got "${text}"`,
    );
  }
  return text as VariantName;
}

/** `mmsim run`: one run of a scenario, then a readable summary (or JSON). */
export function runCommand(io: CliIo, nameOrFile: string, options: RunCommandOptions): number {
  const resolved = resolveScenario(nameOrFile);
  const { scenario, overrides } = resolved;
  const chosenVariant = chooseVariant(resolved, checkVariant(options.variant));
  const resolvedVariant = variantNameOf(chosenVariant);
  // A replay runs the token's schedule with the seed the token carries.
  const token = options.replayToken;
  const seed =
    token === undefined ? intOption('seed', options.seed) : decodeReplayToken(token).seed;
  const strategy =
    token === undefined ? runStrategy(options.strategy) : ({ kind: 'replay', token } as const);
  let recorder: ReturnType<typeof runRecorder> | null = null;
  const maxSteps = intOption('max-steps', options.maxSteps, 1);
  const budget = timeBudgetOption(options.timeBudget);
  const watch = budget === undefined ? null : timeBudgetWatch(budget);
  const onStep: KernelConfig['onStep'] | null =
    options.report === undefined
      ? watch
      : (t, s) => {
          recorder?.stepped(t, s);
          watch?.(t, s);
        };
  const costProfile = costsOption(options.costs);
  const config: Partial<KernelConfig> = {
    ...withCostProfile(overrides, costProfile),
    ...(maxSteps === undefined ? {} : { maxSteps }),
    ...(onStep === null ? {} : { onStep }),
    variant: chosenVariant,
    meta: encodeRunTokenMeta(RUN_META_PREFIX, {
      scenario: scenario.name,
      variant: variantIdentity(chosenVariant),
      file: resolved.source === undefined ? null : { sha256: resolved.source.sha256 },
    }),
    ...(seed === undefined ? {} : { seed }),
    ...(strategy === undefined ? {} : { strategy }),
  };
  let instance: ReturnType<typeof instantiateScenario>;
  try {
    instance = instantiateScenario(scenario, config);
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(`${scenario.name}: ${error.message}`);
    throw error;
  }
  const { kernel } = instance;
  const rt = kernel.rt;
  if (options.report !== undefined) recorder = runRecorder(kernel);
  const files: OutputFile[] = [];
  const open = (path: string) => {
    const file = io.openOutput(path);
    files.push(file);
    return file;
  };
  const ftrace =
    options.ftrace === undefined ? null : attachFtraceSink(rt, open(options.ftrace).write);
  const chrome =
    options.trace === undefined
      ? null
      : attachChromeTraceSink(rt, open(options.trace).write, { vmstat: kernel.vmstat });

  const before = kernel.vmstat.entries();
  let result: RunResult | null = null;
  let finding: RunFinding | null = null;
  let outOfTime = false;
  try {
    result = rt.run();
  } catch (error) {
    if (error instanceof TimeBudgetExceeded) outOfTime = true;
    else if (!(error instanceof MmsimError)) throw error;
    else if (token !== undefined && REPLAY_MISUSE.has(error.code)) {
      // A token that does not fit the scenario is bad input, not a crash of the model.
      for (const file of files) file.close();
      throw new UsageError(`replay of ${scenario.name}@${resolvedVariant}: ${error.message}`);
    } else
      finding = {
        kind: 'crash',
        message: error.message,
        report: `${error.code}: ${error.message}`,
      };
  }
  if (result !== null) finding = findingOf(instance, result);
  const replay = result?.replayToken ?? null;
  ftrace?.close();
  chrome?.close({
    scenario: scenario.name,
    variant: resolvedVariant,
    seed: kernel.config.seed,
    ...(replay === null ? {} : { replay }),
  });
  if (options.vmstat !== undefined) open(options.vmstat).write(formatVmstat(kernel.vmstat));
  if (options.nodeVmstat !== undefined) {
    for (let nid = 0; nid < kernel.vmstat.nrNodes; nid++) {
      open(nodeVmstatPath(options.nodeVmstat, nid)).write(formatNodeVmstat(kernel.vmstat, nid));
    }
  }
  for (const file of files) file.close();

  const delta = vmstatDelta(before, kernel.vmstat);
  const tlb = kernel.vm.tlbStats;
  const flushes = tlb.shootdowns + tlb.localFlushAll + tlb.localFlushOne;
  // A replacement migrate engine (KernelParts) may not keep the table: then no section.
  const reasonCosts =
    (kernel.migrate as { readonly reasonCosts?: ReasonCosts }).reasonCosts?.table() ?? [];
  const virtualTimeNs = result?.virtualTimeNs ?? Math.max(...rt.cpus.map((c) => c.clock));
  const replayLine =
    replay === null
      ? null
      : replayCommandLine(io, replay, {
          scenarioFile: resolved.source?.path,
          variant: options.variant,
          costs: options.costs,
          tokenFile: options.tokenFile,
          shorten: options.json !== true,
        });
  if (options.report !== undefined && recorder !== null) {
    writeReport(
      io,
      options.report,
      reportOfRun({
        summary: {
          command: token === undefined ? 'run' : 'replay',
          scenario: scenario.name,
          title: scenario.title,
          variant: resolvedVariant,
          seed: kernel.config.seed,
          status: result?.status ?? 'crashed',
          replayCommand: replayLine,
          finding: finding === null ? null : `${finding.kind}: ${finding.message}`,
          ...(finding === null ? {} : { findingText: finding.report }),
        },
        cpus: rt.cpus.map((c) => c.id),
        recorder,
        deadlock: result?.deadlock ?? null,
        hasFinding: finding !== null,
        totals: runCounters(kernel)(),
        vmstatDeltas: delta,
        virtualTimeNs,
      }),
    );
  }
  if (options.json === true) {
    io.stdout(
      `${JSON.stringify({
        scenario: scenario.name,
        variant: resolvedVariant,
        seed: kernel.config.seed,
        strategy: runStrategyText(rt.strategy),
        status: result?.status ?? (outOfTime ? 'time-budget' : 'crashed'),
        steps: result?.steps ?? null,
        vmstat: Object.fromEntries(delta),
        tlb: { ipis: tlb.ipisSent, flushes, shootdowns: tlb.shootdowns },
        reasonCosts,
        virtualTimeNs,
        finding,
        replay,
        replayCommand: replayLine,
      })}\n`,
    );
  } else {
    const out: string[] = [];
    out.push(`mmsim run ${scenario.name}: ${scenario.title}`);
    out.push(
      `  variant ${resolvedVariant}, seed ${kernel.config.seed}, strategy ${runStrategyText(rt.strategy)}`,
    );
    const machineLine = formatMachineLine(kernel.config);
    if (machineLine !== null) out.push(`  ${machineLine}`);
    out.push(
      `status: ${result?.status ?? (outOfTime ? `time-budget (stopped after ${options.timeBudget} s)` : 'crashed')}${result === null ? '' : ` after ${result.steps} steps`}, ` +
        `virtual time ${(virtualTimeNs / 1000).toFixed(1)} us`,
    );
    const get = (name: string) => delta.find(([n]) => n === name)?.[1] ?? 0;
    out.push(
      `migrated: ${get('pgmigrate_success')} pages, failed: ${get('pgmigrate_fail')} pages, ` +
        `THPs migrated ${get('thp_migration_success')}, failed ${get('thp_migration_fail')}, split ${get('thp_migration_split')}`,
    );
    out.push(
      `TLB: ${tlb.shootdowns} shootdowns, ${tlb.ipisSent} IPIs, ${tlb.localFlushOne} local one-page and ${tlb.localFlushAll} local full flushes`,
    );
    out.push(...formatReasonCosts(reasonCosts));
    out.push('vmstat deltas:');
    for (const [name, value] of delta) out.push(`  ${name} ${value}`);
    if (finding === null) out.push('finding: none');
    else {
      out.push(`finding: ${finding.kind}: ${finding.message}`);
      for (const line of finding.report.split('\n')) out.push(`  | ${line}`);
    }
    if (replayLine !== null) out.push(`replay: ${replayLine}`);
    io.stdout(`${out.join('\n')}\n`);
  }
  return finding === null ? EXIT_OK : EXIT_FINDING;
}

/**
 * The strategy a run used, in the text form `--strategy` takes (`pct:5` for PCT of depth
 * 5), so `--json`'s `strategy` is the same kind of string in `run` and `explore`.
 */
function runStrategyText(strategy: { readonly name: string; readonly depth?: number }): string {
  return strategy.name === 'pct' && strategy.depth !== undefined
    ? `pct:${strategy.depth}`
    : strategy.name;
}

function findingOf(
  instance: ReturnType<typeof instantiateScenario>,
  result: RunResult,
): RunFinding | null {
  if (result.deadlock !== null) {
    const cycle = result.deadlock.cycle.length;
    return {
      kind: 'deadlock',
      message: cycle > 0 ? `a wait-for cycle of ${cycle} tasks` : 'every task sleeps (no cycle)',
      report: formatDeadlock(result.deadlock),
    };
  }
  if (result.status === 'step-limit') {
    return { kind: 'step-limit', message: `no end after ${result.steps} steps`, report: '' };
  }
  const expectation = programExpectationFinding(instance.kernel);
  if (expectation !== null) return expectation;
  for (const invariant of instance.invariants) {
    const problem = invariant.check('end', result);
    if (problem !== null)
      return { kind: 'invariant', message: `${invariant.name}: ${problem}`, report: problem };
  }
  const inversion = instance.inversions()[0];
  if (inversion !== undefined) {
    return {
      kind: 'inversion',
      message: 'a page-lock order inversion',
      report: formatInversion(inversion),
    };
  }
  return null;
}
