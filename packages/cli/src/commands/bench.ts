import os from 'node:os';
import { type BenchResult, formatBenchMarkdown } from '../bench/bench-result.js';
import { calibrationBenchmarks, pmbenchBenchmarks } from '../bench/pmbench.js';
import { scenarioBenchmarks } from '../bench/scenarios.js';
import { costsOption } from '../costs-option.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';

/** The suites `mmsim bench` runs: the ones that need only the published packages. */
export const CLI_BENCH_SUITES: Readonly<Record<string, () => BenchResult[]>> = {
  pmbench: pmbenchBenchmarks,
  scenarios: scenarioBenchmarks,
  calibration: calibrationBenchmarks,
};

export interface BenchCommandOptions {
  readonly only?: readonly string[];
  readonly json?: boolean;
  readonly markdown?: string;
  /** `--costs NAME`: the cost profile of the pmbench suite's v6.3-over-v6.2 runs. */
  readonly costs?: string;
}

/**
 * `mmsim bench`: the series' headline on pmbench-migrate (IPIs and throughput, v6.3
 * against v6.2, and the model's wall-clock speed) and the explorer's time to the first
 * deadlock of each historic scenario. A markdown table on stdout, or JSON with `--json`.
 * The repository's `pnpm bench` adds the low-level suites (scheduler, folio, locks, rmap,
 * migrate, scaling).
 */
export function benchCommand(io: CliIo, options: BenchCommandOptions): number {
  const names = options.only ?? Object.keys(CLI_BENCH_SUITES);
  for (const name of names) {
    if (!(name in CLI_BENCH_SUITES)) {
      throw new UsageError(
        `--only must name a suite: ${Object.keys(CLI_BENCH_SUITES).join(', ')}; got "${name}"`,
      );
    }
  }
  const profile = costsOption(options.costs);
  const results: BenchResult[] = [];
  for (const name of names) {
    io.stderr(`bench: ${name}...\n`);
    results.push(
      ...(name === 'pmbench' && profile !== undefined
        ? pmbenchBenchmarks(profile.costs)
        : (CLI_BENCH_SUITES[name] as () => BenchResult[])()),
    );
  }
  const heading = `mmsim bench, Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores)`;
  const table = formatBenchMarkdown(heading, results);
  if (options.markdown !== undefined) {
    const file = io.openOutput(options.markdown);
    file.write(table);
    file.close();
  }
  if (options.json === true) {
    io.stdout(
      `${JSON.stringify({ tool: 'mmsim-bench', node: process.version, results }, null, 2)}\n`,
    );
  } else {
    io.stdout(table);
  }
  return EXIT_OK;
}
