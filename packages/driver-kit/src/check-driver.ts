import type { DriverDefinition } from '@mmsim/driver';
import { decodeRunMeta, explore, type Finding, replay } from '@mmsim/explore';
import type { VariantName } from '@mmsim/kernel';
import type { MigrateVariant } from '@mmsim/migrate';
import { decodeReplayToken, MmsimError } from '@mmsim/runtime';
import { DRIVER_CHECKS, type DriverCheckName, isDriverCheckName } from './checks.js';
import { type KitCalls, type KitRun, kitCalls } from './kit-run.js';
import { defaultPlans, driverTarget, type KitPlan, planLine, TARGET_PREFIX } from './target.js';

/** Options of `checkDriver`. */
export interface CheckDriverOptions {
  /** The variant (and so the movable protocol) to check against; default v6.3. */
  readonly variant?: VariantName | MigrateVariant;
  /** Many more schedules (25 times the default): for CI nights. Default false. */
  readonly thorough?: boolean;
  /** Seed of every search; default 1. */
  readonly seed?: number;
  /** Your own plans instead of the default ones (see `defaultPlans`). */
  readonly plans?: readonly KitPlan[];
}

/** A schedule that broke a rule, in the explorer's finding format. */
export interface DriverFinding {
  /** The check that names the problem; null when none of the kit's checks applies. */
  readonly check: DriverCheckName | null;
  /** The plan whose exploration found it. */
  readonly plan: string;
  /** One line: the check's message (else the explorer's). */
  readonly message: string;
  /** `replayDriver(definition, replay)` (or `mmsim check-driver FILE --replay TOKEN`) runs it again. */
  readonly replay: string;
  /** The explorer's finding (shrunk, with its steps). */
  readonly finding: Finding;
}

/** The result of one check. */
export interface DriverCheckResult {
  readonly name: DriverCheckName;
  readonly title: string;
  /** The kernel rule the check enforces. */
  readonly rule: string;
  readonly status: 'pass' | 'fail';
  /** The first failure's message, or null. */
  readonly message: string | null;
  /** The replay token of that failure, or null. */
  readonly replay: string | null;
}

/** What `checkDriver` returns: a verdict an `expect` can assert. */
export interface DriverReport {
  readonly driver: string;
  readonly variant: string;
  /** `pass` when no plan found anything. */
  readonly verdict: 'pass' | 'fail';
  readonly checks: readonly DriverCheckResult[];
  /** One per plan that found something (the first finding of each). */
  readonly findings: readonly DriverFinding[];
  /** The plans explored and what each did. */
  readonly plans: readonly {
    readonly name: string;
    readonly description: string;
    readonly schedules: number;
    readonly found: boolean;
  }[];
  /** Schedules run in all. */
  readonly schedules: number;
  /**
   * How often the core called the driver over every run the kit made (shrinking included):
   * a driver that never lets a page migrate passes every check, and
   * shows here as `migrated: 0`.
   */
  readonly calls: Readonly<KitCalls>;
  /**
   * The driver's own locks the kit found in its state and checked against the page lock
   * (`<driver>:<lock name>`); empty for a driver without locks.
   */
  readonly driverLocks: readonly string[];
  /** Wall-clock time of the whole check. */
  readonly elapsedMs: number;
}

/** Which check a kernel invariant or crash stands for, when no kit check saw it first. */
const KERNEL_INVARIANT_CHECK: Readonly<Record<string, DriverCheckName>> = {
  'frames-conserved': 'references-balance',
  'no-lost-write': 'data-at-dst',
  'nr-isolated': 'pg-isolated',
  'no-lock-held-at-end': 'page-locked-during-migrate',
};

/** A crash that names one of the driver's callbacks (the core's or the SDK's report of it). */
const CALLBACK_NAMED =
  /\.(isolate_page|migrate_page|putback_page|isolatePage|migratePage|putbackPage)\b|DriverContractError/;

function checkDefinition<S>(definition: DriverDefinition<S>): void {
  if (
    typeof definition !== 'object' ||
    definition === null ||
    typeof definition.attach !== 'function' ||
    typeof definition.spec !== 'object' ||
    definition.spec === null
  ) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'checkDriver: give a driver made by defineDriver (from @mmsim/driver)',
    );
  }
}

/**
 * Names the check a finding broke: the first protocol violation the instrumentation
 * recorded in that run, else the check an invariant finding is named after, else the kit's
 * reading of the kernel's invariants and errors.
 */
function classify(
  finding: Finding,
  run: KitRun | null,
): { check: DriverCheckName | null; message: string } {
  const first = run?.violations[0];
  if (first !== undefined) return { check: first.check, message: first.message };
  if (finding.kind === 'invariant') {
    if (isDriverCheckName(finding.invariant))
      return { check: finding.invariant, message: finding.violation };
    const mapped = KERNEL_INVARIANT_CHECK[finding.invariant];
    if (mapped !== undefined) return { check: mapped, message: finding.message };
  }
  if (finding.kind === 'deadlock' || finding.kind === 'inversion') {
    return { check: 'lock-order', message: run?.locks.inversion() ?? finding.message };
  }
  if ((finding.kind as string) === 'driver') {
    return { check: 'callback-contract', message: finding.message };
  }
  if (finding.kind === 'crash' && CALLBACK_NAMED.test(finding.message)) {
    return { check: 'callback-contract', message: finding.message };
  }
  return { check: null, message: finding.message };
}

/** The plan a replay token was recorded under, and the driver it names. */
function planOfToken(token: string, plans: readonly KitPlan[]): KitPlan {
  let target: string | null = null;
  try {
    target = decodeRunMeta(decodeReplayToken(token).meta)?.target ?? null;
  } catch (error) {
    throw error instanceof MmsimError
      ? error
      : new MmsimError('INVALID_REPLAY_TOKEN', `not a replay token: ${String(error)}`);
  }
  if (target === null || !target.startsWith(TARGET_PREFIX)) {
    throw new MmsimError(
      'INVALID_REPLAY_TOKEN',
      `the token was not recorded by check-driver (its target is ${target ?? 'unknown'})`,
    );
  }
  const planName = target.slice(target.lastIndexOf('@') + 1);
  const plan = plans.find((p) => p.name === planName);
  if (plan === undefined) {
    throw new MmsimError(
      'INVALID_REPLAY_TOKEN',
      `the token names plan ${planName}, which this check does not have (plans: ${plans.map((p) => p.name).join(', ')})`,
    );
  }
  return plan;
}

function addCalls(into: KitCalls, from: KitCalls): void {
  into.isolatePage += from.isolatePage;
  into.isolated += from.isolated;
  into.migratePage += from.migratePage;
  into.migrated += from.migrated;
  into.putbackPage += from.putbackPage;
}

function resolvePlans(options: CheckDriverOptions): readonly KitPlan[] {
  if (options.plans !== undefined) {
    if (!Array.isArray(options.plans) || options.plans.length === 0) {
      throw new MmsimError('INVALID_ARGUMENT', 'checkDriver: plans must be a non-empty array');
    }
    return options.plans;
  }
  return defaultPlans(options.thorough === true ? 25 : 1);
}

/**
 * `checkDriver` without the promise: explores every plan and returns the report. Bad
 * options throw `INVALID_ARGUMENT` / `INVALID_CONFIG`.
 */
export function checkDriverSync<S>(
  definition: DriverDefinition<S>,
  options: CheckDriverOptions = {},
): DriverReport {
  checkDefinition(definition);
  const variant = options.variant ?? 'v6.3';
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `checkDriver: seed must be a non-negative integer, got ${String(seed)}`,
    );
  }
  const plans = resolvePlans(options);
  const start = performance.now();
  const findings: DriverFinding[] = [];
  const planRows: { name: string; description: string; schedules: number; found: boolean }[] = [];
  let schedules = 0;
  let variantName = '';
  const calls = kitCalls();
  const driverLocks = new Set<string>();
  for (const plan of plans) {
    const counted = kitCalls();
    const target = driverTarget(
      definition as never as DriverDefinition<unknown>,
      plan,
      variant,
      counted,
    );
    variantName = (target.identity as { variant: { name: string } }).variant.name;
    const result = explore(target, {
      strategy: plan.strategy,
      schedules: plan.schedules,
      seed,
      faults: plan.faults,
      maxSteps: 20_000,
      shrink: { maxReplays: 40 },
    });
    schedules += result.schedules;
    addCalls(calls, counted);
    for (const c of target.lastRun?.locks.classes ?? []) driverLocks.add(c);
    planRows.push({
      name: plan.name,
      description: planLine(plan),
      schedules: result.schedules,
      found: result.found,
    });
    const finding = result.finding;
    if (finding === null) continue;
    // Run the reported schedule once more to read what the instrumentation saw in it.
    replay(target, finding.replay);
    const { check, message } = classify(finding, target.lastRun);
    findings.push({ check, plan: plan.name, message, replay: finding.replay, finding });
  }
  const checks: DriverCheckResult[] = DRIVER_CHECKS.map((c) => {
    const f = findings.find((x) => x.check === c.name);
    return {
      name: c.name,
      title: c.title,
      rule: c.rule,
      status: f === undefined ? 'pass' : 'fail',
      message: f?.message ?? null,
      replay: f?.replay ?? null,
    };
  });
  return {
    driver: definition.spec.name,
    variant: variantName,
    verdict: findings.length === 0 ? 'pass' : 'fail',
    checks,
    findings,
    plans: planRows,
    schedules,
    calls,
    driverLocks: [...driverLocks].sort(),
    elapsedMs: performance.now() - start,
  };
}

/**
 * Checks a driver against the movable-page protocol: runs it under the model's migration
 * callers (compaction ASYNC / SYNC_LIGHT, move_pages SYNC), with its own operations
 * running concurrently, over random, PCT and bounded-DFS schedules, with faults injected
 * (dst allocation failing, migrate_page answered with -EAGAIN / -EBUSY); each rule is a
 * named check. Resolves to a report whose `verdict` is `pass` or `fail`:
 *
 * ```ts
 * const report = await checkDriver(myDriver);
 * expect(report.verdict).toBe('pass');
 * ```
 */
export async function checkDriver<S>(
  definition: DriverDefinition<S>,
  options: CheckDriverOptions = {},
): Promise<DriverReport> {
  return checkDriverSync(definition, options);
}

/** What `replayDriver` gives. */
export interface DriverReplay {
  readonly plan: string;
  /** The check the replayed run broke and its message; null when the run went well. */
  readonly finding: {
    readonly check: DriverCheckName | null;
    readonly message: string;
    readonly finding: Finding;
  } | null;
  /** Where the recorded target differs from this one (another variant's content...). */
  readonly differences: readonly string[];
}

/**
 * Runs a `check-driver` replay token again on `definition`: the same plan, schedule, seed
 * and faults, so the same finding when the driver has not changed.
 */
export function replayDriver<S>(
  definition: DriverDefinition<S>,
  token: string,
  options: Pick<CheckDriverOptions, 'variant' | 'thorough' | 'plans'> = {},
): DriverReplay {
  checkDefinition(definition);
  const plan = planOfToken(token, resolvePlans(options));
  const target = driverTarget(
    definition as never as DriverDefinition<unknown>,
    plan,
    options.variant ?? 'v6.3',
  );
  const result = replay(target, token);
  if (result.finding === null)
    return { plan: plan.name, finding: null, differences: result.differences };
  const { check, message } = classify(result.finding, target.lastRun);
  return {
    plan: plan.name,
    finding: { check, message, finding: result.finding },
    differences: result.differences,
  };
}

/** A report as text: the verdict, one line per check, each finding with its replay token. */
export function formatDriverReport(report: DriverReport): string {
  const lines: string[] = [];
  lines.push(
    `driver ${report.driver} (${report.variant}): ${report.verdict.toUpperCase()} — ${report.schedules} schedule(s) in ${(report.elapsedMs / 1000).toFixed(1)} s`,
  );
  if (report.driverLocks.length > 0) {
    lines.push(`  its locks, checked against the page lock: ${report.driverLocks.join(', ')}`);
  }
  const c0 = report.calls;
  lines.push(
    `  the core called it: isolate_page ${c0.isolatePage} (${c0.isolated} isolated), migrate_page ${c0.migratePage} (${c0.migrated} succeeded), putback_page ${c0.putbackPage}`,
  );
  for (const c of report.checks) {
    lines.push(`  ${c.status === 'pass' ? 'ok  ' : 'FAIL'} ${c.name}: ${c.title}`);
    if (c.message !== null) lines.push(`       ${c.message}`);
  }
  const unnamed = report.findings.filter((f) => f.check === null);
  for (const f of unnamed) lines.push(`  FAIL (${f.finding.kind}) ${f.message}`);
  return `${lines.join('\n')}\n`;
}
