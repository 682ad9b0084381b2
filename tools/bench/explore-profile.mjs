// A CPU profile of a random exploration's warm schedules only: the JIT warm-up (some 2,000
// schedules of a historic scenario in a fresh process) is run before the profiler starts,
// so the profile shows where steady-state time goes, not compilation.
//
//   node tools/bench/explore-profile.mjs ROOT SCENARIO VARIANT WARM N OUT.cpuprofile
//
// ROOT is a built checkout (`pnpm build` run in it). WARM schedules (seed 1000) run
// unprofiled, then N schedules (seed 7) run under the inspector's sampling profiler
// (200 µs interval); OUT can be opened in Chrome DevTools or summarised with any
// .cpuprofile reader. Samples of the inspector itself show as `dispatch`: leave them out
// when reading shares. Prints the wall and CPU time per profiled schedule.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadExploration, SEARCH_OPTIONS } from './explore-target.mjs';

const [root, name, variant, warmArg, nArg, out] = process.argv.slice(2);
const warm = Number(warmArg);
const n = Number(nArg);
if (
  !root ||
  !name ||
  !variant ||
  !out ||
  !(Number.isInteger(warm) && warm >= 0) ||
  !(Number.isInteger(n) && n > 0)
) {
  console.error(
    'usage: node tools/bench/explore-profile.mjs ROOT SCENARIO VARIANT WARM N OUT.cpuprofile',
  );
  process.exit(2);
}
const { explore, target } = await loadExploration(root, name, variant);
if (warm > 0) explore(target, { ...SEARCH_OPTIONS, seed: 1000, schedules: warm });
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
await session.post('Profiler.start');
const cpu0 = process.cpuUsage();
const t0 = performance.now();
explore(target, { ...SEARCH_OPTIONS, seed: 7, schedules: n });
const cpu = process.cpuUsage(cpu0);
const wallUs = ((performance.now() - t0) * 1000) / n;
const { profile } = await session.post('Profiler.stop');
writeFileSync(out, JSON.stringify(profile));
console.log(
  `${name} ${variant} n=${n} cpu_us/sched=${((cpu.user + cpu.system) / n).toFixed(1)} wall_us/sched=${wallUs.toFixed(1)} profile=${out}`,
);
