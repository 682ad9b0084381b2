import { type CompareRow, reportOfComparison } from '@mmsim/report';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { writeReport } from '../report-option.js';
import { resolveScenario } from '../resolve-scenario.js';
import { UsageError } from '../usage-error.js';
import { isVariantFile, variantIdentity, variantNameOf } from '../variant-file.js';
import { checkVariant, runCommand } from './run.js';

export interface CompareCommandOptions {
  /** Comma-separated variants: built-in names or variant files. */
  readonly variants?: string;
  /** Variants given one by one (`--variant X`, repeatable): names or variant files. */
  readonly variant?: readonly string[];
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

/** Parses `--variants`: two or more known variants (names or variant files), no repeats. */
export function parseVariantList(text: string, more: readonly string[] = []): string[] {
  const names = text === '' ? [] : text.split(',').map((v) => v.trim());
  if (names.length + more.length < 2 || names.some((n) => n === '')) {
    throw new UsageError(`--variants takes two or more comma-separated variants; got "${text}"`);
  }
  const all = [...names, ...more];
  // Two specs of one variant (a file and its built-in name, two copies of a file) are
  // repeats too: compare by the name the variant carries.
  const resolved = all.map((spec) => variantNameOf(checkVariant(spec)!));
  const repeated = resolved.find((n, i) => resolved.indexOf(n) !== i);
  if (repeated !== undefined) throw new UsageError(`--variants names ${repeated} twice`);
  return all;
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
  if (options.variants === undefined && (options.variant?.length ?? 0) < 2) {
    throw new UsageError(
      'compare needs two or more variants: --variants A,B or --variant A --variant B (names or variant files)',
    );
  }
  const variants = parseVariantList(options.variants ?? '', options.variant ?? []);
  // A custom variant (a file or module) is shown by its name, with its content hash.
  const custom: { spec: string; name: string; contentHash: string }[] = [];
  const identities = variants.map((spec) => {
    const identity = variantIdentity(checkVariant(spec)!);
    if (isVariantFile(spec)) custom.push({ spec, ...identity });
    return identity;
  });
  const resolved = resolveScenario(nameOrFile);
  const scenarioName = resolved.scenario.name;
  const rows: CompareRow[] = [];
  const findings: string[] = [];
  let seed: number | null = null;
  for (const [i, variant] of variants.entries()) {
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
      variant: identities[i]!.name,
      status: run.finding === null ? run.status : `${run.status} (${run.finding.kind})`,
      ipis: run.tlb.ipis,
      flushes: run.tlb.flushes,
      migrated,
      failed: run.vmstat.pgmigrate_fail ?? 0,
      virtualTimeNs: run.virtualTimeNs,
      pagesPerVirtualSecond: run.virtualTimeNs > 0 ? (migrated * 1e9) / run.virtualTimeNs : 0,
    });
    if (run.finding !== null)
      findings.push(`${identities[i]!.name}: ${run.finding.kind}: ${run.finding.message}`);
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
          variant: identities.map((v) => v.name).join(', '),
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
    const jsonRows = rows.map((r, i) => ({
      ...r,
      contentHash: identities[i]!.contentHash,
      file: isVariantFile(variants[i]!) ? variants[i]! : null,
    }));
    io.stdout(
      `${JSON.stringify({ scenario: scenarioName, seed, variants: jsonRows, findings })}\n`,
    );
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
    for (const c of custom) {
      io.stdout(`variant ${c.name}: from ${c.spec}, content hash ${c.contentHash.slice(0, 12)}…\n`);
    }
    for (const f of findings) io.stdout(`finding: ${f}\n`);
  }
  return findings.length === 0 ? EXIT_OK : EXIT_FINDING;
}
