import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  type BenchResult,
  batchCopyBenchmarks,
  calibrationBenchmarks,
  formatBenchMarkdown,
  pmbenchBenchmarks,
  scenarioBenchmarks,
} from '@mmsim/cli';
import { abbaVsFastCheckBenchmarks } from './abba-fast-check.js';
import { driverKitBenchmarks } from './driver-kit.js';
import {
  exploreBenchmarks,
  exploreDporWorkersBenchmarks,
  exploreWorkersBenchmarks,
} from './explore.js';
import { exploreChecksBenchmarks } from './explore-checks.js';
import { folioBenchmarks } from './folio.js';
import { lockAndLruBenchmarks } from './locks-lru.js';
import { memory16mBenchmarks, memoryBenchmarks } from './memory.js';
import { migrateBenchmarks } from './migrate.js';
import { rmapBenchmarks } from './rmap.js';
import { scalingBenchmarks } from './scaling.js';
import { schedulerBenchmarks } from './scheduler.js';
import { syscallBenchmarks } from './syscalls.js';

/**
 * The mmsim benchmark suite. Prints one JSON document on stdout (and to --out FILE):
 * the machine, the Node version, and every figure with its unit and direction.
 * Run it with `pnpm bench` from the repository root: it builds the packages first and
 * measures their compiled `dist` output, which is what a user of the packages runs (tsx's
 * on-the-fly transform of the sources adds a `__name` call to every closure created,
 * which alone slows the rmap walk by a third).
 */
const suites: Record<string, () => BenchResult[] | Promise<BenchResult[]>> = {
  scheduler: schedulerBenchmarks,
  folio: folioBenchmarks,
  'locks-lru': lockAndLruBenchmarks,
  rmap: rmapBenchmarks,
  migrate: migrateBenchmarks,
  scenarios: scenarioBenchmarks,
  pmbench: pmbenchBenchmarks,
  calibration: calibrationBenchmarks,
  'batch-copy': batchCopyBenchmarks,
  scaling: scalingBenchmarks,
  'driver-kit': driverKitBenchmarks,
  syscalls: syscallBenchmarks,
  explore: exploreBenchmarks,
  'explore-workers': exploreWorkersBenchmarks,
  'explore-dpor-workers': exploreDporWorkersBenchmarks,
  'explore-checks': exploreChecksBenchmarks,
  memory: memoryBenchmarks,
  'memory-16m': memory16mBenchmarks,
  'abba-fast-check': () => abbaVsFastCheckBenchmarks(),
};

/**
 * Suites left out of a plain `pnpm bench` (give them with --only): memory-16m maps a
 * 64 GiB machine, several minutes and about 2.5 GB of heap and arrays; explore-checks
 * (what the invariants cost per schedule, docs/exploration.md) is a diagnosis, not a figure
 * to compare from run to run; explore-dpor-workers runs an exhaustive DPOR search twice
 * (minutes).
 */
const OPT_IN = new Set(['memory-16m', 'explore-checks', 'explore-dpor-workers']);

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    out: { type: 'string' },
    markdown: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write(
    `usage: pnpm bench [--only SUITE]... [--out FILE.json] [--markdown FILE.md]\nsuites: ${Object.keys(suites).join(', ')} (${[...OPT_IN].join(', ')} only with --only)\n`,
  );
  process.exit(0);
}

const selected = values.only ?? Object.keys(suites).filter((name) => !OPT_IN.has(name));
for (const name of selected) {
  if (!(name in suites)) {
    process.stderr.write(`unknown suite ${name}; known: ${Object.keys(suites).join(', ')}\n`);
    process.exit(2);
  }
}

const results: BenchResult[] = [];
for (const name of selected) {
  process.stderr.write(`bench: ${name}...\n`);
  results.push(...(await (suites[name] as () => BenchResult[] | Promise<BenchResult[]>)()));
}

/** The commit measured, or 'unknown' outside a git checkout. */
function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

const report = {
  tool: 'mmsim-bench',
  commit: commit(),
  // Every suite builds its runs with seed 1 (the runtime default) or the seeds it lists.
  seed: 1,
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  results,
};
const json = `${JSON.stringify(report, null, 2)}\n`;
if (values.out !== undefined) writeFileSync(values.out, json);
process.stdout.write(json);

/** The same figures as a markdown table, for notes and pull requests. */
const markdown = () =>
  formatBenchMarkdown(
    `mmsim bench, commit ${report.commit.slice(0, 12)}, Node ${report.node}, ${report.cpu} (${report.cores} cores)`,
    results,
  );
if (values.markdown !== undefined) writeFileSync(values.markdown, markdown());
process.stderr.write(markdown());
