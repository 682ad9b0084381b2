import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type CheckDriverOptions,
  checkDriverSync,
  type DriverDefinition,
  type DriverReport,
  formatDriverReport,
  replayDriver,
} from '@mmsim/driver-kit';
import { formatFinding } from '@mmsim/explore';
import { MmsimError } from '@mmsim/runtime';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { intOption } from '../strategy-option.js';
import { UsageError } from '../usage-error.js';
import { variantNameOf, variantOption } from '../variant-file.js';

/** Options of `mmsim check-driver FILE`. */
export interface CheckDriverCommandOptions {
  readonly thorough?: boolean;
  readonly json?: boolean;
  readonly seed?: string;
  /** A token a finding printed: run that schedule again instead of exploring. */
  readonly replay?: string;
  /** A built-in variant, a variant file or a module (the protocol to check against). */
  readonly variant?: string;
}

/** What loading a driver module gave, by absolute path: the driver, or why not (one line). */
const loadedDrivers = new Map<string, DriverDefinition<unknown> | string>();

function isDefinition(value: unknown): value is DriverDefinition<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { attach?: unknown }).attach === 'function' &&
    typeof (value as { spec?: { name?: unknown } }).spec?.name === 'string'
  );
}

/** The file `mmsim check-driver FILE ...` names, or null. */
function driverFileArgument(argv: readonly string[]): string | null {
  if (argv[0] !== 'check-driver') return null;
  const file = argv
    .slice(1)
    .find(
      (a, i, rest) => !a.startsWith('-') && !/^--(seed|replay|variant)$/.test(rest[i - 1] ?? ''),
    );
  return file ?? null;
}

/**
 * Imports the driver module `mmsim check-driver FILE` names (TypeScript where a loader is
 * active, as under `pnpm mmsim`; else .mjs / .js) and keeps the driver for the command:
 * the module's default export, else its `driver` export, else its one export made by
 * `defineDriver`. Never throws: a problem is reported, exit 2, when the command runs.
 */
export async function preloadDriverModules(
  argv: readonly string[],
  cwd = process.cwd(),
): Promise<void> {
  const file = driverFileArgument(argv);
  if (file === null) return;
  const path = resolve(cwd, file);
  if (loadedDrivers.has(path)) return;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const missing =
      (e.code === 'ERR_MODULE_NOT_FOUND' && (e.message ?? '').includes(path)) ||
      (/Failed to load url|Cannot find module/.test(e.message ?? '') &&
        (e.message ?? '').includes(file.replace(/^\.\//, '')));
    loadedDrivers.set(
      path,
      missing
        ? `${file}: no such file`
        : e.code === 'ERR_UNKNOWN_FILE_EXTENSION'
          ? `${file}: this node cannot load this kind of module; run mmsim under tsx (pnpm mmsim) or give a .mjs module`
          : `${file}: the module failed to load: ${String(e.message ?? e).split('\n')[0]}`,
    );
    return;
  }
  const candidates = [mod.default, mod.driver, ...Object.values(mod)].filter(isDefinition);
  const chosen = isDefinition(mod.default)
    ? mod.default
    : isDefinition(mod.driver)
      ? mod.driver
      : new Set(candidates).size === 1
        ? candidates[0]
        : undefined;
  loadedDrivers.set(
    path,
    chosen ??
      `${file}: the module exports no driver (export the value of defineDriver(...) as default or as driver)`,
  );
}

function loadedDriver(file: string, io: CliIo): DriverDefinition<unknown> {
  const path = resolve(io.cwd ?? process.cwd(), file);
  const loaded = loadedDrivers.get(path);
  if (loaded === undefined) {
    throw new UsageError(`${file}: the driver module was not loaded (run mmsim through its bin)`);
  }
  if (typeof loaded === 'string') throw new UsageError(loaded);
  return loaded;
}

/** The command line that replays a finding's token. */
export function checkDriverReplayLine(
  file: string,
  token: string,
  variant: string | undefined,
): string {
  const v = variant === undefined ? '' : ` --variant ${variant}`;
  return `mmsim check-driver ${file}${v} --replay ${token}`;
}

/** A report as JSON data: the report, each finding without its recorded steps. */
function reportJson(report: DriverReport, file: string, variant: string | undefined) {
  return {
    ...report,
    findings: report.findings.map((f) => ({
      check: f.check,
      plan: f.plan,
      message: f.message,
      replay: f.replay,
      replayCommand: checkDriverReplayLine(file, f.replay, variant),
      kind: f.finding.kind,
      shape: f.finding.shape,
    })),
  };
}

/**
 * `mmsim check-driver FILE [--thorough] [--json] [--seed N] [--variant V] [--replay TOKEN]`:
 * runs the conformance kit on the driver the module exports. Exit 0: every check passed;
 * 1: a check failed (each finding with the command that replays it) or a replayed token
 * reproduced its finding; 2: bad input.
 */
export function checkDriverCommand(
  io: CliIo,
  file: string,
  options: CheckDriverCommandOptions,
): number {
  const driver = loadedDriver(file, io);
  const variant = variantOption(options.variant);
  const seed = intOption('seed', options.seed);
  const kitOptions: CheckDriverOptions = {
    ...(variant === undefined ? {} : { variant }),
    ...(seed === undefined ? {} : { seed }),
    thorough: options.thorough === true,
  };
  try {
    if (options.replay !== undefined)
      return replayToken(io, driver, options.replay, kitOptions, options.json === true);
    const report = checkDriverSync(driver, kitOptions);
    if (options.json === true) {
      io.stdout(`${JSON.stringify(reportJson(report, file, options.variant))}\n`);
    } else {
      io.stdout(formatDriverReport(report));
      // One paragraph per broken check (its first finding), naming the other plans that met it.
      const shown = new Map<string, string[]>();
      for (const f of report.findings) {
        const key = f.check ?? `${f.finding.kind}: ${f.message}`;
        const others = shown.get(key);
        if (others !== undefined) {
          others.push(f.plan);
          continue;
        }
        shown.set(key, []);
      }
      for (const f of report.findings) {
        const key = f.check ?? `${f.finding.kind}: ${f.message}`;
        const others = shown.get(key);
        if (others === undefined) continue;
        shown.delete(key);
        const also = others.length === 0 ? '' : `; also found by plan(s) ${others.join(', ')}`;
        io.stdout(
          `\n${f.check ?? f.finding.kind} (plan ${f.plan}${also}): ${f.message}\n  replay: ${checkDriverReplayLine(file, f.replay, options.variant)}\n`,
        );
      }
    }
    return report.verdict === 'pass' ? EXIT_OK : EXIT_FINDING;
  } catch (error) {
    if (error instanceof MmsimError) {
      const why =
        error.code === 'REPLAY_DIVERGED'
          ? `the token's schedule does not fit this driver (did it change since the token was printed?): ${error.message.split('\n')[0]}`
          : error.message.split('\n')[0];
      throw new UsageError(`check-driver ${file}: ${why}`);
    }
    throw error;
  }
}

function replayToken(
  io: CliIo,
  driver: DriverDefinition<unknown>,
  token: string,
  options: CheckDriverOptions,
  json: boolean,
): number {
  const result = replayDriver(driver, token.trim(), options);
  for (const d of result.differences) io.stderr(`mmsim: note: ${d}\n`);
  const f = result.finding;
  if (json) {
    io.stdout(
      `${JSON.stringify({
        driver: driver.spec.name,
        variant: options.variant === undefined ? 'v6.3' : variantNameOf(options.variant),
        plan: result.plan,
        reproduced: f !== null,
        check: f?.check ?? null,
        message: f?.message ?? null,
        kind: f?.finding.kind ?? null,
      })}\n`,
    );
  } else if (f === null) {
    io.stdout(
      `driver ${driver.spec.name}, plan ${result.plan}: the schedule ran without a finding\n`,
    );
  } else {
    io.stdout(
      `driver ${driver.spec.name}, plan ${result.plan}: ${f.check ?? f.finding.kind}: ${f.message}\n\n`,
    );
    io.stdout(`${formatFinding(f.finding)}\n`);
  }
  return f === null ? EXIT_OK : EXIT_FINDING;
}
