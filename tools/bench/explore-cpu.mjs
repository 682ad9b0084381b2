// Warm, in-process CPU cost of a random exploration, for before/after comparisons of two
// builds of this repository (docs/performance.md uses it throughout).
//
//   node tools/bench/explore-cpu.mjs ROOT SCENARIO VARIANT N [WARM]
//
// ROOT is a built checkout (`pnpm build` run in it); SCENARIO a built-in scenario; N the
// schedules measured (seed 7) after WARM schedules of warm-up (seed 1000; default
// min(N, 1500)), with `stopOnFirst: false` and no shrinking. It prints the process's CPU
// time (user + system, V8's helper threads included) and wall time per measured schedule,
// and a hash of the exploration's JSON result without its timing fields. The hash must be
// equal between two builds that claim to explore alike. It is a weak check: the result holds
// counts and the first finding, so explorations without findings hash alike even across
// scenarios; compare replay tokens schedule by schedule where that matters.
//
// On a shared machine, alternate the builds (base, new, new, base, base, new) and compare
// medians: one build's runs swing by 15-40 % here.
import { createHash } from 'node:crypto';
import { loadExploration, SEARCH_OPTIONS } from './explore-target.mjs';

const [root, name, variant, nArg, warmArg] = process.argv.slice(2);
const n = Number(nArg);
if (!root || !name || !variant || !(Number.isInteger(n) && n > 0)) {
  console.error('usage: node tools/bench/explore-cpu.mjs ROOT SCENARIO VARIANT N [WARM]');
  process.exit(2);
}
const warm = warmArg === undefined ? Math.min(n, 1500) : Number(warmArg);
const { explore, target } = await loadExploration(root, name, variant);
if (warm > 0) explore(target, { ...SEARCH_OPTIONS, seed: 1000, schedules: warm });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = explore(target, { ...SEARCH_OPTIONS, seed: 7, schedules: n });
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const { elapsedMs: _elapsed, schedulesPerSecond: _rate, ...rest } = result;
const hash = createHash('sha1').update(JSON.stringify(rest)).digest('hex').slice(0, 10);
const per = (x) => (x / result.schedules).toFixed(1);
console.log(
  `${name} ${variant} n=${result.schedules} cpu_us/sched=${per(cpu.user + cpu.system)} ` +
    `wall_us/sched=${per(wallMs * 1000)} hash=${hash}`,
);
