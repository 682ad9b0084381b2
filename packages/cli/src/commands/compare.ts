import { type CompareRow, reportOfComparison } from '@mmsim/report';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { writeReport } from '../report-option.js';
import { resolveScenario } from '../resolve-scenario.js';
import { UsageError } from '../usage-error.js';
import { checkVariant, runCommand } from './run.js';

export interface CompareCommandOptions {
  /** Comma-separated variant names. */
  readonly variants: string;
  readonly seed?: string;
  readonly strategy?: string;
  readonly json?: boolean;
  readonly report?: string;
}

/** What `run --json` prints, as far as compare reads it. */
interface RunJson {
  readonly status: string;
  readonly seed: number;
  readonly vmstat: Record<string, number>;
  readonly tlb: { readonly ipis: number; readonly flushes: number };
  readonly virtualTimeNs: number;
  readonly finding: { readonly kind: string; readonly message: string } | null;
}

/** Parses `--variants`: two or more known variants, no repeats. */
export function parseVariantList(text: string): string[] {
  const names = text.split(',').map((v) => v.trim());
  if (names.length < 2 || names.some((n) => n === '')) {
    throw new UsageError(`--variants takes two or more comma-separated variants; got "${text}"`);
  }
  for (const name of names) checkVariant(name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new UsageError(`--variants names ${repeated} twice`);
  return names;
}

/**
 * `mmsim compare SCENARIO --variants A,B,...`: one `run` of the scenario per variant (same
 * seed and strategy), then a table, and with `--report` the variants side by side as
 * charts. Exits 1 when a variant's run had a finding (it is named in the table).
 */
export function compareCommand(
  io: CliIo,
  nameOrFile: string,
  options: CompareCommandOptions,
): number {
  const variants = parseVariantList(options.variants);
  const resolved = resolveScenario(nameOrFile);
  const scenarioName = resolved.scenario.name;
  const rows: CompareRow[] = [];
  const findings: string[] = [];
  let seed: number | null = null;
  for (const variant of variants) {
    let out = '';
    runCommand({ ...io, stdout: (text) => (out += text) }, nameOrFile, {
      variant,
      json: true,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
    });
    const run = JSON.parse(out) as RunJson;
    seed = run.seed;
    const migrated = run.vmstat.pgmigrate_success ?? 0;
    rows.push({
      variant,
      status: run.finding === null ? run.status : `${run.status} (${run.finding.kind})`,
      ipis: run.tlb.ipis,
      flushes: run.tlb.flushes,
      migrated,
      failed: run.vmstat.pgmigrate_fail ?? 0,
      virtualTimeNs: run.virtualTimeNs,
      pagesPerVirtualSecond: run.virtualTimeNs > 0 ? (migrated * 1e9) / run.virtualTimeNs : 0,
    });
    if (run.finding !== null)
      findings.push(`${variant}: ${run.finding.kind}: ${run.finding.message}`);
  }
  if (options.report !== undefined) {
    writeReport(
      io,
      options.report,
      reportOfComparison(
        {
          command: 'compare',
          scenario: scenarioName,
          title: resolved.scenario.title,
          variant: variants.join(', '),
          seed,
          status:
            findings.length === 0 ? 'completed' : `${findings.length} variant(s) with a finding`,
          replayCommand: null,
          finding: findings.length === 0 ? null : findings.join('; '),
        },
        rows,
      ),
    );
  }
  if (options.json === true) {
    io.stdout(`${JSON.stringify({ scenario: scenarioName, seed, variants: rows, findings })}\n`);
  } else {
    const head = [
      'variant',
      'status',
      'IPIs',
      'flushes',
      'migrated',
      'failed',
      'virtual us',
      'pages/virtual s',
    ];
    const lines = rows.map((r) => [
      r.variant,
      r.status,
      String(r.ipis),
      String(r.flushes),
      String(r.migrated),
      String(r.failed),
      (r.virtualTimeNs / 1000).toFixed(1),
      r.pagesPerVirtualSecond.toFixed(0),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
    const fmt = (cells: readonly string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd();
    io.stdout(
      `mmsim compare ${scenarioName} (seed ${seed})\n${[head, ...lines].map(fmt).join('\n')}\n`,
    );
    for (const f of findings) io.stdout(`finding: ${f}\n`);
  }
  return findings.length === 0 ? EXIT_OK : EXIT_FINDING;
}
