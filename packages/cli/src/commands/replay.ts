import {
  decodeRunMeta,
  type ExplorationTarget,
  type Finding,
  formatFinding,
  type ReplayResult,
  type RunMeta,
  replay,
} from '@mmsim/explore';
import type { Kernel, VariantName } from '@mmsim/kernel';
import { type MigrateVariant, VARIANTS } from '@mmsim/migrate';
import { reportOfFinding } from '@mmsim/report';
import { decodeReplayToken, MmsimError } from '@mmsim/runtime';
import { type Scenario, scenarioTarget } from '@mmsim/scenarios';
import { attachChromeTraceSink, attachFtraceSink, vmstatDelta } from '@mmsim/trace';
import { builtInScenario } from '../catalog.js';
import { costsOption, withCostProfile } from '../costs-option.js';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import type { CliIo, OutputFile } from '../io.js';
import { decodeRunTokenMeta, readTokenFile, replayCommandLine } from '../replay-line.js';
import { writeReport } from '../report-option.js';
import { fileMachineConfig, type ResolvedScenario, resolveScenario } from '../resolve-scenario.js';
import { UsageError } from '../usage-error.js';
import { variantIdentity, variantNameOf } from '../variant-file.js';
import { checkVariant, RUN_META_PREFIX, runCommand } from './run.js';

/**
 * `mmsim replay <token>`: re-runs a schedule of a scenario exactly and prints what it
 * finds. A token printed by `mmsim run` replays that run (with the same summary), one
 * printed by `mmsim explore` replays the finding step by step, with the checks the
 * exploration had turned off. A token of a scenario file needs the file (`--scenario FILE`);
 * a file that differs from the recorded one is named on stderr, and a token of another
 * scenario is refused.
 */
export interface ReplayCommandOptions {
  readonly json?: boolean;
  /** The scenario file the token came from (tokens name only the scenario). */
  readonly scenario?: string;
  readonly ftrace?: string;
  readonly trace?: string;
  /** Write an HTML report of the replayed run to this file. */
  readonly report?: string;
  /** Read the token from this file (as `run` and `explore` write it with `--token-file`). */
  readonly tokenFile?: string;
  /** The variant file or module a token of a custom variant was recorded on. */
  readonly variant?: string;
  /** `--costs NAME`: the cost profile the token was recorded with. */
  readonly costs?: string;
}

/**
 * The variant a token replays on: the one given with `--variant` (a built-in name, a file or
 * a module), else the built-in variant the token names. A variant whose name or content hash
 * differs from the recorded one is refused (exit 2): the schedule would not replay exactly.
 */
function variantForToken(
  recorded: { readonly name: string; readonly contentHash?: string | null | undefined },
  asked: string | undefined,
): VariantName | MigrateVariant {
  let variant: VariantName | MigrateVariant;
  if (asked !== undefined) {
    variant = checkVariant(asked) as VariantName | MigrateVariant;
  } else if (recorded.name in VARIANTS) {
    variant = recorded.name as VariantName;
  } else {
    throw new UsageError(
      `the token was recorded on the custom variant ${recorded.name}; give its file with --variant FILE`,
    );
  }
  const now = variantIdentity(variant);
  if (now.name !== recorded.name) {
    throw new UsageError(
      `the token was recorded on variant ${recorded.name}, not ${now.name}; give --variant with the variant the token names`,
    );
  }
  if (typeof recorded.contentHash === 'string' && recorded.contentHash !== now.contentHash) {
    throw new UsageError(
      `the token was recorded on variant ${recorded.name} with content hash ${recorded.contentHash.slice(0, 12)}…, ` +
        `but this variant ${now.name} has ${now.contentHash.slice(0, 12)}…: its settings differ (or its replaced steps do), so the replay would not be exact`,
    );
  }
  return variant;
}

/** The token from the argument or from `--token-file`: exactly one of them. */
function tokenOf(argument: string | undefined, file: string | undefined): string {
  if (argument !== undefined && file !== undefined) {
    throw new UsageError('give the token or --token-file, not both');
  }
  if (argument !== undefined) return argument;
  if (file !== undefined) return readTokenFile(file);
  throw new UsageError('give a replay token, or --token-file FILE');
}

/**
 * The scenario a token of scenario `name` replays on: the built-in one, or the file given with
 * `--scenario`, which must define that scenario. `recorded` is the file hash the token
 * carries (null: a built-in scenario; undefined: a token of a format without it). A file
 * that differs from the recorded one is said on stderr: the replay may diverge.
 */
function scenarioFor(
  io: CliIo,
  name: string,
  recorded: { readonly sha256: string } | null | undefined,
  file: string | undefined,
): ResolvedScenario {
  if (file === undefined) {
    if (recorded !== null && recorded !== undefined) {
      throw new UsageError(
        `the token was recorded on the scenario file of scenario ${name}; give the file with --scenario FILE`,
      );
    }
    return { scenario: builtInScenario(name), overrides: {} };
  }
  const resolved = resolveScenario(file);
  if (resolved.scenario.name !== name) {
    throw new UsageError(
      `the token was made by scenario ${name}, not ${resolved.scenario.name} (${file}); ` +
        `give the scenario the token names`,
    );
  }
  const now = resolved.source?.sha256 ?? null;
  if (recorded !== undefined && (recorded?.sha256 ?? null) !== now) {
    const was = recorded === null ? 'the built-in scenario' : `sha256 ${recorded.sha256}`;
    const is = now === null ? 'the built-in scenario' : `sha256 ${now}`;
    io.stderr(
      `mmsim: note: ${file} differs from what the token was recorded on (${was}, now ${is}); ` +
        'the replay may diverge\n',
    );
  }
  return resolved;
}

export function replayCommand(
  io: CliIo,
  argument: string | undefined,
  options: ReplayCommandOptions,
): number {
  const token = tokenOf(argument, options.tokenFile);
  let metaText: string;
  let seed: number;
  try {
    ({ meta: metaText, seed } = decodeReplayToken(token));
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(error.message);
    throw error;
  }
  if (metaText.startsWith(RUN_META_PREFIX)) {
    const meta = decodeRunTokenMeta(RUN_META_PREFIX, metaText);
    scenarioFor(io, meta.scenario, meta.file, options.scenario);
    if ((meta.variant.name as string) !== '') variantForToken(meta.variant, options.variant);
    return runCommand(io, options.scenario ?? meta.scenario, {
      ...((meta.variant.name as string) === ''
        ? options.variant === undefined
          ? {}
          : { variant: options.variant }
        : { variant: options.variant ?? meta.variant.name }),
      replayToken: token,
      ...(options.json === undefined ? {} : { json: options.json }),
      ...(options.ftrace === undefined ? {} : { ftrace: options.ftrace }),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
      ...(options.report === undefined ? {} : { report: options.report }),
      ...(options.tokenFile === undefined ? {} : { tokenFile: options.tokenFile }),
      ...(options.costs === undefined ? {} : { costs: options.costs }),
    });
  }
  let meta: RunMeta | null;
  try {
    meta = decodeRunMeta(metaText);
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(error.message);
    throw error;
  }
  if (meta === null || !meta.target.includes('@')) {
    throw new UsageError(
      'this token was not made by `mmsim run` or `mmsim explore` (it names no scenario@variant)',
    );
  }
  const target = meta.target;
  const at = target.lastIndexOf('@');
  const name = target.slice(0, at);
  const recordedVariant = (meta.identity as { variant?: { contentHash?: string | null } }).variant;
  const variantValue = variantForToken(
    { name: target.slice(at + 1), contentHash: recordedVariant?.contentHash },
    options.variant,
  );
  const variant = variantNameOf(variantValue);
  const recordedFile = (meta.identity as { file?: { sha256: string } | null }).file ?? null;
  const resolved = scenarioFor(io, name, recordedFile, options.scenario);
  const { scenario, overrides } = resolved;
  const { faults: _f, ...config } = withCostProfile(
    fileMachineConfig(overrides),
    costsOption(options.costs),
  ) as Record<string, unknown>;
  const base = scenarioTarget(scenario, {
    ...config,
    variant: variantValue,
    ...(resolved.source === undefined ? {} : { source: { sha256: resolved.source.sha256 } }),
  });
  const files: OutputFile[] = [];
  const sinks: Array<() => void> = [];
  const seen: { kernel: Kernel | null; before: ReturnType<Kernel['vmstat']['entries']> } = {
    kernel: null,
    before: [],
  };
  // The same target, with the requested trace sinks attached to each instance's runtime; the
  // instance's kernel is kept for the vmstat and TLB figures.
  const traced: ExplorationTarget = {
    name: base.name,
    identity: base.identity,
    instantiate(instanceOptions) {
      const instance = base.instantiate(instanceOptions);
      seen.kernel = instance.kernel;
      seen.before = instance.kernel.vmstat.entries();
      if (options.ftrace !== undefined) {
        const file = io.openOutput(options.ftrace);
        files.push(file);
        const sink = attachFtraceSink(instance.rt, file.write);
        sinks.push(() => sink.close());
      }
      if (options.trace !== undefined) {
        const file = io.openOutput(options.trace);
        files.push(file);
        const sink = attachChromeTraceSink(instance.rt, file.write);
        sinks.push(() => sink.close({ scenario: name, target, replay: token }));
      }
      return instance;
    },
  };
  let result: ReplayResult;
  try {
    result = replay(traced, token);
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(`replay of ${target}: ${error.message}`);
    throw error;
  } finally {
    for (const close of sinks) close();
    for (const file of files) file.close();
  }
  for (const line of result.differences) {
    if (!line.startsWith('file')) io.stderr(`mmsim: note: the target differs: ${line}\n`);
  }
  const finding = result.finding;
  const replayLine =
    finding === null
      ? null
      : replayCommandLine(io, token, {
          scenarioFile: resolved.source?.path,
          variant: options.variant,
          costs: options.costs,
          tokenFile: options.tokenFile,
          shorten: options.json !== true,
        });
  if (options.report !== undefined) {
    const rt = seen.kernel?.rt ?? null;
    writeReport(
      io,
      options.report,
      reportOfFinding(
        {
          command: 'replay',
          scenario: name,
          variant: variant ?? '',
          seed: finding?.seed ?? result.result?.seed ?? null,
          status: result.result?.status ?? finding?.kind ?? 'stopped',
          replayCommand: replayLine,
          finding: finding?.message ?? null,
          ...(finding === null ? {} : { findingText: formatFinding(finding) }),
        },
        finding,
        result.steps,
        rt?.cpus.map((c) => c.id),
        rt === null ? undefined : (e) => rt.trace.formatFields(e),
      ),
    );
  }
  if (options.json === true) {
    const json = jsonOf(
      scenario,
      variant,
      seed,
      result,
      seen.kernel,
      seen.before,
      replayLine,
      token,
    );
    io.stdout(`${JSON.stringify(json)}\n`);
  } else if (finding !== null) {
    io.stdout(
      `mmsim replay of ${target}:\n${formatFinding(finding, replayLine === null ? {} : { replay: replayLine })}\n`,
    );
  } else {
    io.stdout(`mmsim replay of ${target}: the run ended without a finding\n`);
  }
  return finding === null ? EXIT_OK : EXIT_FINDING;
}

/** The explore part of a finding that `formatFinding` prints as its report. */
function reportOf(finding: Finding): string {
  const text = formatFinding({ ...finding, steps: [] });
  const lines = text.split('\n');
  // Drop the header line and everything from the replay line on.
  const end = lines.findIndex((l) => l.startsWith('replay: '));
  return lines.slice(1, end < 0 ? undefined : end).join('\n');
}

/**
 * `replay --json`: what `run --json` prints (status, steps, vmstat deltas, TLB figures,
 * virtual time, the finding and the token), with the finding in full: its kind-specific
 * detail and every recorded step.
 */
function jsonOf(
  scenario: Scenario,
  variant: string | undefined,
  seed: number,
  result: ReplayResult,
  kernel: Kernel | null,
  before: ReturnType<Kernel['vmstat']['entries']>,
  replayLine: string | null,
  token: string,
): Record<string, unknown> {
  const finding = result.finding;
  const delta = kernel === null ? [] : vmstatDelta(before, kernel.vmstat);
  const tlb = kernel?.vm.tlbStats;
  const status =
    result.result?.status ?? (finding?.kind === 'crash' ? 'crashed' : 'stopped by a check');
  const { steps: _steps, ...detail } = finding ?? { steps: undefined };
  return {
    scenario: scenario.name,
    variant: variant ?? null,
    seed,
    strategy: 'replay',
    status,
    steps: result.result?.steps ?? result.shape.steps,
    vmstat: Object.fromEntries(delta),
    tlb:
      tlb === undefined
        ? null
        : {
            ipis: tlb.ipisSent,
            flushes: tlb.shootdowns + tlb.localFlushAll + tlb.localFlushOne,
            shootdowns: tlb.shootdowns,
          },
    virtualTimeNs:
      result.result?.virtualTimeNs ??
      (kernel === null ? null : Math.max(...kernel.rt.cpus.map((c) => c.clock))),
    finding:
      finding === null
        ? null
        : { ...detail, kind: finding.kind, message: finding.message, report: reportOf(finding) },
    schedule: result.steps,
    shape: result.shape,
    replay: token,
    replayCommand: replayLine,
  };
}
