import type { ExploreStrategy } from '@mmsim/explore';
import type { VariantName } from '@mmsim/kernel';
import type { MigrateVariant } from '@mmsim/migrate';
import { MmsimError } from '@mmsim/runtime';
import {
  exploreScenario,
  historyBugVariants,
  type Scenario,
  type ScenarioHistory,
} from '@mmsim/scenarios';
import { builtInNames, builtInScenario } from '../catalog.js';
import { EXIT_FINDING, EXIT_INTERRUPTED, EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { replayCommandLine } from '../replay-line.js';
import { fileMachineConfig, type ResolvedScenario, resolveScenario } from '../resolve-scenario.js';
import { intOption, strategyText } from '../strategy-option.js';
import { timeBudgetOption } from '../time-budget.js';
import { UsageError } from '../usage-error.js';
import { variantNameOf } from '../variant-file.js';
import { checkVariant } from './run.js';

export interface CheckCommandOptions {
  readonly variant?: string;
  /** Schedules per strategy and scenario. */
  readonly schedules?: string;
  readonly seed?: string;
  /** Wall-clock seconds for the whole check. */
  readonly timeBudget?: string;
  readonly json?: boolean;
  /** Write a markdown summary (for a pull request) to this file. */
  readonly markdown?: string;
  /** Scenario files (.json, .yaml) that join the built-in scenarios in the matrix. */
  readonly scenario?: readonly string[];
}

/** Thrown out of an exploration's progress callback when the user pressed Ctrl-C. */
class CheckInterrupted extends Error {}

/** Schedules per strategy and scenario when `--schedules` is not given. */
export const CHECK_DEFAULT_SCHEDULES = 20;

/** The preemption bound of the DFS strategy `check` runs. */
export const CHECK_DFS_BOUND = 1;

/**
 * The strategies `check` runs for every scenario, in order; the first finding ends the
 * scenario's search. DFS with a preemption bound can say "exhausted".
 */
export const CHECK_STRATEGIES: readonly ExploreStrategy[] = [
  'random',
  'pct',
  { kind: 'dfs', preemptionBound: CHECK_DFS_BOUND },
];

/** One row of the check matrix. */
export interface CheckRow {
  readonly scenario: string;
  /**
   * `finding` (kind says which), `clean` (nothing in `schedules` schedules, or the bounded
   * space exhausted), `skipped` (a benchmark, or the time budget was spent before it ran).
   */
  readonly result: 'finding' | 'clean' | 'skipped';
  /** deadlock, invariant, inversion, step-limit, crash, ... for a finding; else null. */
  readonly kind: string | null;
  /** The strategy that found it (for a finding), or null. */
  readonly strategy: string | null;
  /** Schedules run for this scenario, over all strategies. */
  readonly schedules: number;
  /** True when the DFS strategy ran every schedule within its preemption bound. */
  readonly exhausted: boolean;
  /** The finding's message, or why the row was skipped; null when clean. */
  readonly message: string | null;
  readonly replay: string | null;
  readonly replayCommand: string | null;
  /**
   * For an inversion: the deadlock itself, found by searching on with the page-lock
   * inversion check off (null when that search found no deadlock, or for other rows).
   */
  readonly deadlock: {
    readonly strategy: string;
    readonly message: string;
    readonly replay: string | null;
    readonly replayCommand: string | null;
  } | null;
  /** What the scenario's recorded history says of this variant. */
  readonly expected: 'bug' | 'fixed' | 'unrecorded';
  /** The scenario file a `--scenario` row came from (absent for a built-in scenario). */
  readonly file?: string;
}

/**
 * What a scenario's recorded history says of `variant`: `bug` when it is one of the
 * variants the scenario deadlocks in (or fails in, `failsIn`), `fixed` when it is one of the variants free of it,
 * `unrecorded` otherwise (no history, or a variant the history does not list).
 */
export function historyExpectation(
  history: ScenarioHistory | undefined,
  variant: string,
): 'bug' | 'fixed' | 'unrecorded' {
  if (history === undefined) return 'unrecorded';
  // A deadlock or, for the regressions that were not hangs, an invariant or BUG (`failsIn`).
  if ((historyBugVariants(history) as readonly string[]).includes(variant)) return 'bug';
  if ((history.fixedIn as readonly string[]).includes(variant)) return 'fixed';
  return 'unrecorded';
}

/** A row's name in the matrix: the scenario, and the file it came from for `--scenario`. */
export function checkRowLabel(row: CheckRow): string {
  return row.file === undefined ? row.scenario : `${row.scenario} (${row.file})`;
}

/** Text of one matrix cell. */
export function checkCellText(row: CheckRow): string {
  if (row.result === 'finding') {
    const found = `${row.kind} (${row.strategy})`;
    return row.deadlock === null
      ? found
      : `${found}; deadlock confirmed with the check off (${row.deadlock.strategy})`;
  }
  if (row.result === 'skipped') return `skipped: ${row.message}`;
  return row.exhausted
    ? `clean for ${row.schedules} schedules; exhausted within bound ${CHECK_DFS_BOUND}`
    : `clean for ${row.schedules} schedules`;
}

/**
 * `mmsim check`: every built-in scenario with a recorded history (the historic deadlocks,
 * migrate-under-writes, ...) explored under random, PCT and bounded DFS in one variant; a
 * matrix of scenario × result, each finding with its replay command. Benchmarks (scenarios
 * without a history, e.g. pmbench-migrate: about 120 ms a schedule, and PCT drives it into
 * the step limit) are listed as skipped. Exit 1 on any finding.
 */
export function checkCommand(io: CliIo, options: CheckCommandOptions): number {
  const chosen = checkVariant(options.variant);
  if (chosen === undefined) throw new UsageError('check needs --variant NAME or --variant FILE');
  // A variant file's name labels the matrix; the value itself is what runs.
  const variant = variantNameOf(chosen);
  const schedules = intOption('schedules', options.schedules, 1) ?? CHECK_DEFAULT_SCHEDULES;
  const seed = intOption('seed', options.seed) ?? 1;
  const budgetMs = timeBudgetOption(options.timeBudget);
  const deadline = budgetMs === undefined ? undefined : performance.now() + budgetMs;
  // Every file is read and validated before anything runs: a typo fails at once.
  const files = (options.scenario ?? []).map(checkScenarioFile);
  const targets: { scenario: Scenario; resolved?: ResolvedScenario }[] = [
    ...builtInNames().map((name) => ({ scenario: builtInScenario(name) })),
    ...files.map((resolved) => ({ scenario: resolved.scenario, resolved })),
  ];
  const rows: CheckRow[] = [];
  let interrupted = false;
  for (const { scenario, resolved } of targets) {
    try {
      rows.push(checkScenario(io, scenario, chosen, schedules, seed, deadline, options, resolved));
    } catch (error) {
      if (!(error instanceof CheckInterrupted)) throw error;
      interrupted = true;
      break;
    }
  }
  const findings = rows.filter((r) => r.result === 'finding').length;
  const strategies = CHECK_STRATEGIES.map(strategyText);
  if (options.markdown !== undefined) {
    const file = io.openOutput(options.markdown);
    try {
      file.write(checkMarkdown(variant, schedules, seed, rows));
    } finally {
      file.close();
    }
  }
  if (options.json === true) {
    io.stdout(
      `${JSON.stringify({ variant, schedules, seed, strategies, findings, rows, ...(interrupted ? { stoppedBy: 'interrupted' } : {}) })}\n`,
    );
  } else {
    io.stdout(
      `mmsim check --variant ${variant} (${schedules} schedule(s) per strategy: ${strategies.join(', ')}; seed ${seed})\n`,
    );
    const width = Math.max(0, ...rows.map((r) => checkRowLabel(r).length));
    for (const row of rows) {
      io.stdout(`${checkRowLabel(row).padEnd(width)}  ${checkCellText(row)}\n`);
    }
    for (const row of rows) {
      if (row.result !== 'finding') continue;
      // A crash's message already starts with its kind ("crash: CODE: ...").
      const what = row.message?.startsWith(`${row.kind}: `)
        ? row.message
        : `${row.kind}: ${row.message}`;
      io.stdout(`\n${checkRowLabel(row)}: ${what}\n  replay: ${row.replayCommand}\n`);
      if (row.deadlock !== null) {
        io.stdout(`  deadlock: ${row.deadlock.message}\n  replay: ${row.deadlock.replayCommand}\n`);
      }
    }
    if (interrupted) {
      io.stdout(
        `\ninterrupted after ${rows.length} of ${targets.length} scenario(s) (the matrix so far)\n`,
      );
    }
    io.stdout(
      `\n${findings === 0 ? 'no findings' : `${findings} scenario(s) with a finding`} in variant ${variant}\n`,
    );
  }
  if (interrupted) return EXIT_INTERRUPTED;
  return findings === 0 ? EXIT_OK : EXIT_FINDING;
}

/**
 * A `--scenario` argument: a scenario file (either form of `mmsim explore`'s files), read
 * and validated. A built-in name is refused: the built-in scenarios are in the matrix already.
 */
function checkScenarioFile(path: string): ResolvedScenario {
  const resolved = resolveScenario(path);
  if (resolved.source === undefined) {
    throw new UsageError(
      `--scenario takes a scenario file (.json, .yaml); "${path}" is a built-in scenario, which check runs anyway`,
    );
  }
  return resolved;
}

/** A row without a finding: skipped (with the reason) or clean after `schedules` schedules. */
function withoutFinding(
  base: Pick<CheckRow, 'scenario' | 'expected'>,
  result: 'clean' | 'skipped',
  message: string | null,
  schedules = 0,
  exhausted = false,
): CheckRow {
  return {
    ...base,
    result,
    kind: null,
    strategy: null,
    schedules,
    exhausted,
    message,
    replay: null,
    replayCommand: null,
    deadlock: null,
  };
}

/** One scenario under every strategy, until the first finding. */
function checkScenario(
  io: CliIo,
  scenario: Scenario,
  variant: VariantName | MigrateVariant,
  schedules: number,
  seed: number,
  deadline: number | undefined,
  options: CheckCommandOptions,
  resolved?: ResolvedScenario,
): CheckRow {
  const base = {
    scenario: scenario.name,
    expected: historyExpectation(scenario.history, variantNameOf(variant)),
    ...(resolved?.source === undefined ? {} : { file: resolved.source.path }),
  };
  // A user's file is checked whether or not it records a history; a built-in without one
  // is a benchmark.
  if (scenario.history === undefined && resolved === undefined) {
    return withoutFinding(base, 'skipped', 'benchmark (no recorded history)');
  }
  const search = { io, resolved };
  const first = searchScenario(scenario, variant, schedules, seed, deadline, [], search);
  if (first.result === null && first.ran === 0) {
    return withoutFinding(base, 'skipped', 'time budget spent');
  }
  const replayLine = (token: string | null) =>
    token === null
      ? null
      : replayCommandLine(io, token, {
          shorten: options.json !== true,
          variant: options.variant,
          scenarioFile: resolved?.source?.path,
        });
  if (first.result === null) {
    return withoutFinding(base, 'clean', null, first.ran, first.exhausted);
  }
  // The dependency checker reports an inversion before the schedule that hangs; search on
  // with it off for the deadlock itself, so the matrix says whether the cycle really closes.
  let deadlock: CheckRow['deadlock'] = null;
  if (first.result.kind === 'inversion') {
    const confirm = searchScenario(
      scenario,
      variant,
      schedules,
      seed,
      deadline,
      ['page-lock-inversion'],
      search,
    );
    if (confirm.result !== null && confirm.result.kind === 'deadlock') {
      deadlock = {
        strategy: confirm.strategy,
        message: confirm.result.message,
        replay: confirm.result.replay,
        replayCommand: replayLine(confirm.result.replay),
      };
    }
  }
  return {
    ...base,
    result: 'finding',
    kind: first.result.kind,
    strategy: first.strategy,
    schedules: first.ran,
    exhausted: false,
    message: first.result.message,
    replay: first.result.replay,
    replayCommand: replayLine(first.result.replay),
    deadlock,
  };
}

/** What `searchScenario` found: the first finding (null if none) and the work done. */
interface SearchOutcome {
  readonly result: ReturnType<typeof exploreScenario> | null;
  /** The strategy that found it, as `--strategy` spells it; '' when nothing was found. */
  readonly strategy: string;
  readonly ran: number;
  readonly exhausted: boolean;
}

/** Explores `scenario` under each of `CHECK_STRATEGIES` in turn until the first finding. */
function searchScenario(
  scenario: Scenario,
  variant: VariantName | MigrateVariant,
  schedules: number,
  seed: number,
  deadline: number | undefined,
  disable: readonly string[],
  search: { readonly io: CliIo; readonly resolved: ResolvedScenario | undefined },
): SearchOutcome {
  // A file's machine and checks (its `config`) apply; the command's variant, seed and
  // strategies replace the file's own.
  const config = fileMachineConfig(search.resolved?.overrides ?? {});
  const source = search.resolved?.source;
  let ran = 0;
  let exhausted = false;
  for (const strategy of CHECK_STRATEGIES) {
    const left = deadline === undefined ? undefined : deadline - performance.now();
    if (left !== undefined && left <= 0) break;
    let result: ReturnType<typeof exploreScenario>;
    try {
      result = exploreScenario(scenario, {
        ...config,
        variant,
        strategy,
        schedules,
        seed,
        shrink: false,
        ...(disable.length === 0 ? {} : { disable: [...disable] }),
        ...(left === undefined ? {} : { timeBudgetMs: left }),
        ...(source === undefined ? {} : { source: { sha256: source.sha256 } }),
        onProgress: () => {
          if (search.io.interrupted?.() === true) throw new CheckInterrupted();
        },
      });
    } catch (error) {
      if (error instanceof CheckInterrupted) throw error;
      if (error instanceof MmsimError) throw new UsageError(`${scenario.name}: ${error.message}`);
      throw error;
    }
    ran += result.schedules;
    if (result.exhausted) exhausted = true;
    if (result.found) return { result, strategy: strategyText(strategy), ran, exhausted: false };
  }
  return { result: null, strategy: '', ran, exhausted };
}

/** The check as a markdown summary for a pull request. */
export function checkMarkdown(
  variant: string,
  schedules: number,
  seed: number,
  rows: readonly CheckRow[],
): string {
  const findings = rows.filter((r) => r.result === 'finding');
  const lines = [
    `## mmsim check --variant ${variant}`,
    '',
    `${findings.length === 0 ? 'No findings' : `${findings.length} scenario(s) with a finding`}; ` +
      `${schedules} schedule(s) per strategy (${CHECK_STRATEGIES.map(strategyText).join(', ')}), seed ${seed}.`,
    '',
    '| scenario | result | recorded history |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| ${checkRowLabel(r)} | ${checkCellText(r)} | ${r.expected} |`),
  ];
  for (const r of findings) {
    lines.push('', `### ${checkRowLabel(r)}: ${r.kind}`, '', r.message ?? '', '', '```sh');
    lines.push(r.replayCommand ?? '', '```');
    if (r.deadlock !== null) {
      lines.push('', `Deadlock itself: ${r.deadlock.message}`, '', '```sh');
      lines.push(r.deadlock.replayCommand ?? '', '```');
    }
  }
  return `${lines.join('\n')}\n`;
}
