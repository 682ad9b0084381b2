import { migrateBenchmarks } from '/work/wt/mspeed/tools/bench/src/migrate.ts';
const which = process.argv[2] ?? 'migrate';
if (which === 'migrate') {
  for (let i = 0; i < 3; i++)
    console.log(
      migrateBenchmarks()
        .filter((r) => r.name.includes('v6.3_'))
        .map((r) => `${r.name} ${Math.round(r.value)}`)
        .join('\n'),
    );
} else {
  const { pmbenchBenchmarks } = await import('@mmsim/cli');
  for (let i = 0; i < 3; i++) {
    const r = pmbenchBenchmarks();
    console.log(
      r
        .filter((x) => x.name.includes('wall'))
        .map((x) => `${x.name} ${Math.round(x.value)} rtf ${x.detail?.realTimeFactor}`)
        .join('\n'),
    );
  }
}
