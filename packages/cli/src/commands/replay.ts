import { type ExplorationTarget, formatFinding, replay } from '@mmsim/explore';
import { reportOfFinding } from '@mmsim/report';
import type { Runtime as ExplorationInstanceRt } from '@mmsim/runtime';
import { decodeReplayToken, MmsimError } from '@mmsim/runtime';
import { scenarioTarget } from '@mmsim/scenarios';
import { attachChromeTraceSink, attachFtraceSink } from '@mmsim/trace';
import { builtInScenario } from '../catalog.js';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import type { CliIo, OutputFile } from '../io.js';
import { writeReport } from '../report-option.js';
import { resolveScenario } from '../resolve-scenario.js';
import { UsageError } from '../usage-error.js';
import { checkVariant, RUN_META_PREFIX, runCommand } from './run.js';

/**
 * `mmsim replay <token>`: re-runs a schedule of a built-in scenario exactly and prints what
 * it finds. The token names `scenario@variant`: a token printed by `mmsim run` replays
 * that run (with the same summary), one printed by `mmsim explore` replays the finding
 * step by step.
 */
export interface ReplayCommandOptions {
  readonly json?: boolean;
  /** The scenario file the token came from (tokens name only the scenario). */
  readonly scenario?: string;
  readonly ftrace?: string;
  readonly trace?: string;
  /** Write an HTML report of the replayed run to this file. */
  readonly report?: string;
}

export function replayCommand(io: CliIo, token: string, options: ReplayCommandOptions): number {
  let target: string;
  let metaText: string;
  try {
    metaText = decodeReplayToken(token).meta;
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(error.message);
    throw error;
  }
  if (metaText.startsWith(RUN_META_PREFIX)) {
    const [name = '', variant] = metaText.slice(RUN_META_PREFIX.length).split('@');
    return runCommand(io, options.scenario ?? name, {
      ...(variant === undefined ? {} : { variant }),
      replayToken: token,
      ...(options.json === undefined ? {} : { json: options.json }),
      ...(options.ftrace === undefined ? {} : { ftrace: options.ftrace }),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
      ...(options.report === undefined ? {} : { report: options.report }),
    });
  }
  try {
    const meta = JSON.parse(metaText) as { target?: unknown };
    if (typeof meta.target !== 'string') throw new Error('no target');
    target = meta.target;
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(error.message);
    throw new UsageError(
      'this token was not made by `mmsim explore` (it names no scenario@variant)',
    );
  }
  const at = target.lastIndexOf('@');
  const name = target.slice(0, at);
  const variant = checkVariant(target.slice(at + 1));
  const { scenario, overrides } =
    options.scenario === undefined
      ? { scenario: builtInScenario(name), overrides: {} }
      : resolveScenario(options.scenario);
  if (scenario.name !== name) {
    throw new UsageError(`the token was made by scenario ${name}, not ${scenario.name}`);
  }
  const {
    strategy: _s,
    seed: _seed,
    variant: _v,
    onStep: _o,
    maxSteps: _m,
    meta: _meta,
    faults: _f,
    ...config
  } = overrides as Record<string, unknown>;
  const base = scenarioTarget(scenario, {
    ...config,
    ...(variant === undefined ? {} : { variant }),
  });
  const files: OutputFile[] = [];
  const sinks: Array<() => void> = [];
  const replayed: { rt: ExplorationInstanceRt | null } = { rt: null };
  // The same target, with the requested trace sinks attached to each instance's runtime.
  const traced: ExplorationTarget = {
    name: base.name,
    instantiate(instanceOptions) {
      const instance = base.instantiate(instanceOptions);
      replayed.rt = instance.rt;
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
  let result: ReturnType<typeof replay>;
  try {
    result = replay(traced, token);
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(`replay of ${target}: ${error.message}`);
    throw error;
  } finally {
    for (const close of sinks) close();
    for (const file of files) file.close();
  }
  const finding = result.finding;
  if (options.report !== undefined) {
    const rt = replayed.rt;
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
          replayCommand: `mmsim replay ${token}`,
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
    io.stdout(
      `${JSON.stringify({ scenario: name, variant, found: finding !== null, kind: finding?.kind ?? null, status: result.result?.status ?? null })}\n`,
    );
  } else if (finding !== null) {
    io.stdout(`mmsim replay of ${target}:\n${formatFinding(finding)}\n`);
  } else {
    io.stdout(`mmsim replay of ${target}: the run ended without a finding\n`);
  }
  return finding === null ? EXIT_OK : EXIT_FINDING;
}
