import { decodeReplayToken, type FaultSpec, MmsimError, type RunResult } from '@mmsim/runtime';
import { type CheckOptions, validateCheckOptions } from './checks.js';
import type { Finding, ScheduleShape, StepRecord } from './finding.js';
import { checksOfToken, decodeRunMeta, identityDifferences } from './run-meta.js';
import { findingOf, fromPairs, type RunSetup, runSchedule } from './run-schedule.js';
import type { ExplorationTarget, TargetIdentity } from './target.js';
import { checkFaults, checkInteger, checkKeys, checkObject, checkTarget } from './validate.js';

/** The runtime's own default step limit, for tokens made outside the explorer. */
const RUNTIME_MAX_STEPS = 100_000_000;

/**
 * Options of `replay`. The disabled checks default to the token's; extra invariants are code
 * and must be given again, with the names the token recorded.
 */
export interface ReplayOptions extends CheckOptions {
  /** Fault specs; default: those in the token (explorer tokens carry them), else none. */
  readonly faults?: Readonly<Record<string, FaultSpec>>;
  /** Step limit; default: the token's, else the runtime's default. */
  readonly maxSteps?: number;
}

/** A replayed run. */
export interface ReplayResult {
  /** What went wrong, with the recorded steps; null when the run went well. */
  readonly finding: Finding | null;
  /** The runtime's result; null when a check or a crash stopped the run. */
  readonly result: RunResult | null;
  readonly shape: ScheduleShape;
  /** Every step, for `formatFinding` or your own report. */
  readonly steps: readonly StepRecord[];
  /**
   * Where the target's identity differs from the one the token recorded (another scenario
   * file, another variant content), one line each; empty when they agree. The replay ran
   * anyway: it may diverge or find something else.
   */
  readonly differences: readonly string[];
}

const REPLAY_KEYS = ['disable', 'invariants', 'faults', 'maxSteps'];

/**
 * Runs the schedule of a replay token again on a fresh instance of `target`: the same
 * decisions, seed, faults, step limit and disabled checks, so the same steps, trace events
 * and finding (given invariants of the names the token recorded). A token of another target,
 * of an older format, or that does not fit the target throws `INVALID_REPLAY_TOKEN` or
 * `REPLAY_DIVERGED`; an identity that differs from the recorded one is reported in
 * `differences`.
 */
export function replay(
  target: ExplorationTarget,
  token: string,
  options: ReplayOptions = {},
): ReplayResult {
  const t = checkTarget(target);
  const opts = checkObject('replay options', options) as ReplayOptions;
  checkKeys('replay options', opts, REPLAY_KEYS);
  validateCheckOptions(opts, 'replay options');
  const data = decodeReplayToken(token);
  const meta = decodeRunMeta(data.meta);
  if (meta !== null && meta.target !== t.name) {
    throw new MmsimError(
      'INVALID_REPLAY_TOKEN',
      `the token was recorded on target "${meta.target}", not "${t.name}"`,
    );
  }
  if (meta !== null) refuseOtherVariant(meta.identity, t.identity ?? {});
  const setup: RunSetup = {
    target: t,
    checks: meta === null ? opts : checksOfToken(meta, opts),
    faults:
      opts.faults !== undefined
        ? checkFaults('replay options.faults', opts.faults)
        : (meta?.faults ?? {}),
    maxSteps:
      opts.maxSteps !== undefined
        ? checkInteger('replay options.maxSteps', opts.maxSteps, 1, 1e9)
        : (meta?.maxSteps ?? RUNTIME_MAX_STEPS),
  };
  const outcome = runSchedule(
    setup,
    { kind: 'guided', choices: fromPairs(data.pairs), mode: 'replay' },
    data.seed,
    true,
  );
  return {
    finding: findingOf(outcome, t.name),
    result: outcome.result,
    shape: outcome.tracker.shape,
    steps: outcome.steps ?? [],
    differences: meta === null ? [] : identityDifferences(meta.identity, t.identity ?? {}),
  };
}

/**
 * A token records the variant's content hash (a scenario target's `identity.variant`): a
 * target whose variant has other settings, even under the same name, would not replay the
 * schedule exactly, so it is refused. Tokens recorded without a hash are not checked.
 */
function refuseOtherVariant(recorded: TargetIdentity, now: TargetIdentity): void {
  const was = (recorded as { variant?: { name?: unknown; contentHash?: unknown } }).variant;
  if (was === undefined || was === null || typeof was.contentHash !== 'string') return;
  const is = (now as { variant?: { name?: unknown; contentHash?: unknown } }).variant;
  const hash = is?.contentHash ?? null;
  if (hash === was.contentHash) return;
  throw new MmsimError(
    'INVALID_REPLAY_TOKEN',
    `the token was recorded on variant ${String(was.name)} (content hash ${was.contentHash}), ` +
      `not on this variant ${String(is?.name)} (content hash ${String(hash)}): its settings differ (or its replaced steps do)`,
  );
}
