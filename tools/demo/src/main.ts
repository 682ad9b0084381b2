import { hunt, pmbench } from './tour.js';

/**
 * The main job: a short tour of mmsim. First the series' headline on `pmbench-migrate`
 * (TLB-flush IPIs and pages migrated per virtual second, v6.2 against v6.3), then the
 * question reviewers asked of the RFC, answered by exploring schedules: a deadlock in the
 * RFC's variant, none in 6.3. Exits 1 if any of that does not hold.
 */
const out: string[] = [];
out.push('mmsim: a tour');
out.push('');
out.push('1. pmbench-migrate: 4 threads on CPUs 1-4 touch 256 pages while migratepages moves');
out.push('   them node 0 -> node 1 -> node 0, twice (MIGRATE_SYNC, lowest-clock virtual time)');
const old = pmbench('v6.2');
const now = pmbench('v6.3');
for (const r of [old, now]) {
  out.push(
    `   ${r.variant.padEnd(5)}: ${String(r.ipis).padStart(5)} TLB-flush IPIs in ${String(r.shootdowns).padStart(4)} shootdowns, ` +
      `${r.pagesMigrated} pages migrated, ${Math.round(r.pagesPerSecond).toLocaleString('en-US')} pages per virtual second`,
  );
}
const ipiCut = old.ipis > 0 ? (1 - now.ipis / old.ipis) * 100 : 0;
const speedup = old.pagesPerSecond > 0 ? (now.pagesPerSecond / old.pagesPerSecond - 1) * 100 : 0;
out.push(
  `   v6.3 against v6.2: IPIs -${ipiCut.toFixed(1)}%, pages per second +${speedup.toFixed(1)}% ` +
    '(the series reported -99.1% and +291.7% on a 2-socket server)',
);
out.push('');
out.push(
  '2. rfc-lock-order: a sync batch that may sleep on a folio lock while holding others, against',
);
out.push('   a filesystem locking the same folios in ascending order (PCT exploration, seed 1)');
const rfc = hunt('rfc-2022', 1000);
const fixed = hunt('v6.3', 1000);
out.push(
  `   rfc-2022: ${rfc.found ? `deadlock found after ${rfc.schedules} schedule(s)` : `nothing in ${rfc.schedules} schedules`}`,
);
out.push(
  `   v6.3    : ${fixed.found ? `deadlock found after ${fixed.schedules} schedule(s)` : `nothing in ${fixed.schedules} schedules`}`,
);
if (rfc.found) {
  out.push('');
  for (const line of rfc.report.split('\n')) out.push(`   | ${line}`);
  if (rfc.replay !== null) out.push(`   replay it: pnpm mmsim replay ${rfc.replay}`);
}
out.push('');
const ok =
  old.clean &&
  now.clean &&
  now.ipis * 100 <= old.ipis &&
  now.pagesPerSecond > old.pagesPerSecond &&
  rfc.found &&
  !fixed.found;
out.push(
  ok
    ? 'summary: batching cut the IPIs by two orders of magnitude; the RFC deadlocks, 6.3 (async batch, then one by one) does not.'
    : 'summary: UNEXPECTED RESULT, see above.',
);
out.push(
  'More: pnpm mmsim scenarios | pnpm mmsim explore <scenario> --variant <v> | pnpm mmsim --help',
);
process.stdout.write(`${out.join('\n')}\n`);
process.exitCode = ok ? 0 : 1;
