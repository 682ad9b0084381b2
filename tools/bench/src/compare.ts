import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchResult } from '@mmsim/cli';

/**
 * Compares this checkout's benchmark figures with another checkout's (an older commit, say)
 * in one process, alternating the two suite by suite for `--rounds` rounds, so both see
 * the same machine load: on a shared 2-core machine two separate `pnpm bench` runs can
 * differ by more than the change being measured. Prints a markdown table of the best and
 * the median of each figure. Both checkouts must be built (`pnpm install && pnpm build` in
 * the other one; `pnpm bench:compare` builds this one).
 *
 *   pnpm bench:compare --against ../mmsim-old --only migrate --only pmbench --rounds 8
 */
type Suite = () => BenchResult[];

/** Where each suite lives in a checkout: the tools/bench sources or the cli's build. */
const SUITES: Record<string, (dir: string) => Promise<Suite>> = {
  scheduler: async (d) => (await import(`${d}/tools/bench/src/scheduler.ts`)).schedulerBenchmarks,
  folio: async (d) => (await import(`${d}/tools/bench/src/folio.ts`)).folioBenchmarks,
  'locks-lru': async (d) =>
    (await import(`${d}/tools/bench/src/locks-lru.ts`)).lockAndLruBenchmarks,
  rmap: async (d) => (await import(`${d}/tools/bench/src/rmap.ts`)).rmapBenchmarks,
  migrate: async (d) => (await import(`${d}/tools/bench/src/migrate.ts`)).migrateBenchmarks,
  scenarios: async (d) => (await import(`${d}/packages/cli/dist/index.js`)).scenarioBenchmarks,
  pmbench: async (d) => (await import(`${d}/packages/cli/dist/index.js`)).pmbenchBenchmarks,
  'batch-copy': async (d) => (await import(`${d}/packages/cli/dist/index.js`)).batchCopyBenchmarks,
  scaling: async (d) => (await import(`${d}/tools/bench/src/scaling.ts`)).scalingBenchmarks,
  syscalls: async (d) => (await import(`${d}/tools/bench/src/syscalls.ts`)).syscallBenchmarks,
  explore: async (d) => (await import(`${d}/tools/bench/src/explore.ts`)).exploreBenchmarks,
  'explore-workers': async (d) =>
    (await import(`${d}/tools/bench/src/explore.ts`)).exploreWorkersBenchmarks,
};

const { values } = parseArgs({
  options: {
    against: { type: 'string' },
    only: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '6' },
  },
});
const rounds = Number(values.rounds);
const selected = values.only ?? ['migrate', 'pmbench', 'scenarios'];
const unknown = selected.filter((s) => !(s in SUITES));
if (values.against === undefined || unknown.length > 0 || !Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(
    `usage: pnpm bench:compare --against DIR [--only SUITE]... [--rounds N]\nsuites: ${Object.keys(SUITES).join(', ')}\n`,
  );
  process.exit(2);
}

const trees = {
  // pnpm runs the script in tools/bench; a relative path means the caller's directory.
  other: resolve(process.env.INIT_CWD ?? process.cwd(), values.against),
  this: resolve(import.meta.dirname, '../../..'),
};
const loaded: Record<keyof typeof trees, Suite[]> = { other: [], this: [] };
for (const side of ['other', 'this'] as const) {
  for (const name of selected)
    loaded[side].push(await (SUITES[name] as (d: string) => Promise<Suite>)(trees[side]));
}

const figures = new Map<string, { better: string; other: number[]; this: number[] }>();
for (let round = 0; round < rounds; round++) {
  process.stderr.write(`bench:compare: round ${round + 1}/${rounds}\n`);
  for (const side of ['other', 'this'] as const) {
    for (const suite of loaded[side]) {
      for (const r of suite()) {
        let f = figures.get(r.name);
        if (f === undefined) {
          f = { better: r.better, other: [], this: [] };
          figures.set(r.name, f);
        }
        f[side].push(r.value);
      }
    }
  }
}

const median = (v: number[]) =>
  [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
const change = (a: number, b: number) => `${b >= a ? '+' : ''}${((b / a - 1) * 100).toFixed(1)}%`;
const lines = [
  `mmsim bench:compare, ${rounds} rounds, this checkout against ${trees.other}`,
  '',
  '| figure | better | other, best | this, best | change | other, median | this, median | change |',
  '|---|---|---:|---:|---:|---:|---:|---:|',
];
for (const [name, f] of figures) {
  const best = (v: number[]) => (f.better === 'lower' ? Math.min(...v) : Math.max(...v));
  const [ob, tb, om, tm] = [best(f.other), best(f.this), median(f.other), median(f.this)];
  const p = (x: number) => x.toPrecision(4);
  lines.push(
    `| ${name} | ${f.better} | ${p(ob)} | ${p(tb)} | ${change(ob, tb)} | ${p(om)} | ${p(tm)} | ${change(om, tm)} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
