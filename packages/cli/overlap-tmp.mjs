import { exploreScenario } from '@mmsim/scenarios';
import { builtInScenario } from './dist/catalog.js';
const [name, variant, bound, ...ns] = process.argv.slice(2);
const sc = builtInScenario(name);
const opts = { variant, strategy: { kind: 'dpor', preemptionBound: Number(bound) }, schedules: 2000, stopOnFirst: false, shrink: false };
const whole = exploreScenario(sc, opts);
let out = `${name} ${variant} ${bound} whole ${whole.executions} ${whole.classes} ${whole.exhausted}`;
for (const n of ns) {
const union = new Set(); let sum = 0;
for (let k = 0; k < Number(n); k++) {
  const r = exploreScenario(sc, { ...opts, shard: { index: k, count: Number(n) } });
  sum += r.classes; for (const h of r.classHashes) union.add(h);
}
out += ` | N=${n} sum ${sum} union ${union.size}`;
}
console.log(out);
