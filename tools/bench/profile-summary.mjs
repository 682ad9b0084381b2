// Summarise a .cpuprofile (from explore-profile.mjs or `node --cpu-prof`) by function, self
// or inclusive share of the sampled time, or by package.
//
//   node tools/bench/profile-summary.mjs FILE.cpuprofile [ROWS] [self|incl|pkg] [time|samples]
//
// `dispatch` rows are the inspector itself (explore-profile.mjs): leave them out.
// `time` (the default) weights a sample by the time since the previous one; on a loaded
// machine one sample taken across a pause of the process then carries the whole pause, so
// `samples` (every sample counts once) is the steadier reading there.
import { readFileSync } from 'node:fs';

const [file, rowsArg = '40', mode = 'self', weight = 'time'] = process.argv.slice(2);
const rows = Number(rowsArg);
if (
  !file ||
  !(Number.isInteger(rows) && rows > 0) ||
  !['self', 'incl', 'pkg'].includes(mode) ||
  !['time', 'samples'].includes(weight)
) {
  console.error(
    'usage: node tools/bench/profile-summary.mjs FILE.cpuprofile [ROWS] [self|incl|pkg] [time|samples]',
  );
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);

/** Sampled microseconds (or samples) per profile node. */
const timeOf = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = weight === 'samples' ? 1 : (profile.timeDeltas[i] ?? 0);
  timeOf.set(id, (timeOf.get(id) ?? 0) + dt);
  total += dt;
});

/** A function as `name package/dist/file.js:line`, or its package in `pkg` mode. */
function keyOf(node) {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/.*packages\//, '').replace(/.*node_modules\//, 'npm:');
  if (mode === 'pkg') return where.split('/')[0] || functionName || '(native)';
  return `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
}

const share = new Map();
for (const [id, t] of timeOf) {
  if (mode !== 'incl') {
    const k = keyOf(nodeById.get(id));
    share.set(k, (share.get(k) ?? 0) + t);
    continue;
  }
  // Inclusive: every distinct function on the sample's stack, once (recursion counted once).
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parentOf.get(cur)) {
    const k = keyOf(nodeById.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    share.set(k, (share.get(k) ?? 0) + t);
  }
}
for (const [k, t] of [...share].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
  console.log(((100 * t) / total).toFixed(1).padStart(5), k);
}
