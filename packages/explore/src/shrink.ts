import { decodeReplayToken, MmsimError } from '@mmsim/runtime';
import { type CheckOptions, validateCheckOptions } from './checks.js';
import { type Finding, type FindingDetail, type ScheduleShape, sameKind } from './finding.js';
import { checksOfToken, decodeRunMeta } from './run-meta.js';
import {
  findingOf,
  fromPairs,
  type RunOutcome,
  type RunSetup,
  runSchedule,
} from './run-schedule.js';
import { DEFAULT_CHOICE } from './strategies/guided.js';
import type { ExplorationTarget } from './target.js';
import { checkInteger, checkKeys, checkObject, checkTarget } from './validate.js';

/** Replays a shrink may spend unless told otherwise. */
export const DEFAULT_SHRINK_REPLAYS = 200;

/** Options of `shrink`: a replay budget, and the check options the finding was found with. */
export interface ShrinkOptions extends CheckOptions {
  /** At most this many candidate runs. Default 200. */
  readonly maxReplays?: number;
}

/** A shrunk finding and what it cost. */
export interface ShrinkResult {
  /** The finding reproduced by the shortest schedule found, with its steps recorded. */
  readonly finding: Finding;
  readonly before: ScheduleShape;
  readonly after: ScheduleShape;
  /** Runs spent: the candidates, plus the two that re-run the original and record the result. */
  readonly replays: number;
  /** Candidates that reproduced the finding with a smaller schedule. */
  readonly accepted: number;
}

/**
 * Not longer than `b` in what a schedule asks for: decisions to spell out, preemptions,
 * switches. (The runtime's decision count is not one of them: it grows with the tasks
 * alive, so letting an unrelated task finish early lowers it without simplifying anything.)
 */
function within(a: ScheduleShape, b: ScheduleShape): boolean {
  return (
    a.explicitDecisions <= b.explicitDecisions &&
    a.preemptions <= b.preemptions &&
    a.switches <= b.switches
  );
}

/**
 * Simpler: fewer preemptions first (the CHESS observation: few explain most bugs), then
 * fewer switches, decisions to spell out, steps.
 */
function simpler(a: ScheduleShape, b: ScheduleShape): boolean {
  const ka = [a.preemptions, a.switches, a.explicitDecisions, a.steps];
  const kb = [b.preemptions, b.switches, b.explicitDecisions, b.steps];
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return (ka[i] as number) < (kb[i] as number);
  }
  return false;
}

/** The choices of a run, with the default ones written as "default" so they follow edits. */
function normalized(outcome: RunOutcome): number[] {
  const { choices, defaults } = outcome.tracker;
  const out = choices.map((id, i) => (defaults[i] ? DEFAULT_CHOICE : id));
  while (out.length > 0 && out[out.length - 1] === DEFAULT_CHOICE) out.pop();
  return out;
}

/**
 * Searches for a smaller schedule with the same kind of finding (same invariant, same
 * crash code; any deadlock, inversion or step limit). Candidates follow an edited list of
 * choices, taking the default (keep running the current task) where the list says so,
 * ends, or names a task that cannot run. Six passes, repeated while they help and the
 * budget lasts:
 * 1. truncate the tail: later decisions keep the current task running;
 * 2. remove a slice: a switch to a task and the decisions where it kept running;
 * 3. remove context switches one at a time: a decision keeps the current task;
 * 4. switch to another task instead;
 * 5. move a switch one decision earlier or later;
 * 6. delta debugging (Zeller): delete chunks of decisions, halving the chunk size.
 * A candidate is kept only if it reproduces the finding, is not longer than the original
 * in decisions to spell out, preemptions or switches, and is simpler than the best so far
 * (fewer preemptions, then switches, decisions to spell out, steps).
 */
export function shrinkFinding(
  setup: RunSetup,
  found: FindingDetail,
  token: string,
  maxReplays: number,
): ShrinkResult {
  const data = decodeReplayToken(token);
  const seed = data.seed;
  let replays = 0;
  let accepted = 0;
  const run = (choices: readonly number[]): RunOutcome => {
    replays++;
    return runSchedule(setup, { kind: 'guided', choices, mode: 'lenient' }, seed, false);
  };
  const original = run(fromPairs(data.pairs));
  if (original.verdict === null || !sameKind(original.verdict, found)) {
    throw new MmsimError(
      'REPLAY_DIVERGED',
      `shrink: the finding's token does not reproduce a ${found.kind} finding; the target is ` +
        'not deterministic, or the check options differ from those it was found with',
    );
  }
  let best = original;
  let current = normalized(best);
  let budget = maxReplays;
  const attempt = (candidate: readonly number[]): boolean => {
    if (budget <= 0) return false;
    budget--;
    const outcome = run(candidate);
    if (outcome.verdict === null || !sameKind(outcome.verdict, found)) return false;
    const shape = outcome.tracker.shape;
    if (!within(shape, original.tracker.shape) || !simpler(shape, best.tracker.shape)) {
      return false;
    }
    best = outcome;
    current = normalized(outcome);
    accepted++;
    return true;
  };

  let progress = true;
  while (progress && budget > 0) {
    progress = false;
    // 1. Truncate the tail, the biggest cut first.
    for (let cut = Math.ceil(current.length / 2); cut >= 1 && budget > 0; ) {
      if (cut <= current.length && attempt(current.slice(0, current.length - cut))) {
        progress = true;
        cut = Math.min(cut, Math.ceil(current.length / 2));
      } else {
        cut = Math.floor(cut / 2);
      }
    }
    // 2. Remove whole slices: a task chosen and the decisions where it went on running.
    for (let i = 0; i < current.length && budget > 0; ) {
      const choices = best.tracker.choices;
      let end = i + 1;
      while (end < current.length && choices[end] === choices[i]) end++;
      if (attempt([...current.slice(0, i), ...current.slice(end)])) progress = true;
      else i = end;
    }
    // 3. Remove context switches, earliest first.
    for (let i = 0; i < current.length && budget > 0; i++) {
      if (current[i] === DEFAULT_CHOICE) continue;
      const candidate = [...current];
      candidate[i] = DEFAULT_CHOICE;
      if (attempt(candidate)) {
        progress = true;
        i--; // the list changed under us: look at this position again
      }
    }
    // 4. Switch to another task instead.
    const ids = [...new Set(best.tracker.choices)].sort((a, b) => a - b);
    for (let i = 0; i < current.length && budget > 0; i++) {
      if (current[i] === DEFAULT_CHOICE) continue;
      for (const id of ids) {
        if (id === current[i]) continue;
        const candidate = [...current];
        candidate[i] = id;
        if (attempt(candidate)) {
          progress = true;
          break;
        }
      }
    }
    // 5. Move a switch one decision earlier or later: fewer steps, or a better-placed switch.
    for (let i = 0; i < current.length && budget > 0; i++) {
      if (current[i] === DEFAULT_CHOICE) continue;
      for (const to of [i - 1, i + 1]) {
        if (to < 0 || (to < current.length && current[to] !== DEFAULT_CHOICE)) continue;
        const candidate = [...current];
        candidate[i] = DEFAULT_CHOICE;
        candidate[to] = current[i] as number;
        if (attempt(candidate)) {
          progress = true;
          break;
        }
      }
    }
    // 6. Delta debugging: delete chunks of decisions.
    for (let chunk = Math.ceil(current.length / 2); chunk >= 1 && budget > 0; ) {
      let removed = false;
      for (let start = 0; start < current.length && budget > 0; ) {
        const candidate = [...current.slice(0, start), ...current.slice(start + chunk)];
        if (attempt(candidate)) {
          progress = true;
          removed = true;
        } else {
          start += chunk;
        }
      }
      if (!removed) chunk = Math.floor(chunk / 2);
      else chunk = Math.min(chunk, Math.ceil(current.length / 2));
    }
  }

  // The shrunk schedule replays strictly from its own token; record its steps for the report.
  replays++;
  const recorded = runSchedule(
    setup,
    { kind: 'guided', choices: best.tracker.choices, mode: 'replay' },
    seed,
    true,
  );
  const finding = findingOf(recorded, setup.target.name);
  if (finding === null || !sameKind(finding, found)) {
    throw new MmsimError(
      'REPLAY_DIVERGED',
      'shrink: the shrunk schedule did not replay the same finding; the target is not deterministic',
    );
  }
  return {
    finding,
    before: original.tracker.shape,
    after: recorded.tracker.shape,
    replays,
    accepted,
  };
}

const SHRINK_KEYS = ['disable', 'invariants', 'maxReplays'];

/**
 * Shrinks a finding (from `explore` or `replay`) on its target: a smaller schedule with
 * the same kind of finding, and its replay token. Pass the check options it was found with.
 */
export function shrink(
  target: ExplorationTarget,
  finding: Finding,
  options: ShrinkOptions = {},
): ShrinkResult {
  const t = checkTarget(target);
  const opts = checkObject('shrink options', options) as ShrinkOptions;
  checkKeys('shrink options', opts, SHRINK_KEYS);
  validateCheckOptions(opts, 'shrink options');
  const maxReplays = checkInteger(
    'shrink options.maxReplays',
    opts.maxReplays ?? DEFAULT_SHRINK_REPLAYS,
    0,
    1e6,
  );
  const f = checkObject('finding', finding) as unknown as Finding;
  if (typeof f.replay !== 'string' || typeof f.kind !== 'string') {
    throw new MmsimError('INVALID_CONFIG', 'finding must be a Finding from explore() or replay()');
  }
  const meta = decodeRunMeta(decodeReplayToken(f.replay).meta);
  if (meta === null || meta.target !== t.name) {
    throw new MmsimError(
      'INVALID_REPLAY_TOKEN',
      `the finding was recorded on ${meta === null ? 'no explorer target' : `target "${meta.target}"`}, not "${t.name}"`,
    );
  }
  const setup: RunSetup = {
    target: t,
    checks: checksOfToken(meta, opts),
    faults: meta.faults,
    maxSteps: meta.maxSteps,
  };
  return shrinkFinding(setup, f, f.replay, maxReplays);
}
