import type { BenchResult } from '@mmsim/cli';
import { defineDriver } from '@mmsim/driver';
import { checkDriverSync } from '@mmsim/driver-kit';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';

/**
 * The driver the figure is measured on. TODO(driver-sdk): the SDK's virtio-balloon once it
 * is merged; until then a balloon-shaped driver (pages on one list, moved with movePage).
 */
const balloon = defineDriver({
  name: 'balloon',
  setup: () => ({}),
  isolatePage: () => true,
  migratePage(_s, dst, src, _mode, host) {
    host.movePage(dst, src);
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage() {},
  populate(_s, host, nid, count) {
    for (let i = 0; i < count; i++) host.allocPage(nid, 0x60 + i);
  },
});

/**
 * The driver-kit suite: wall-clock time of the kit's default run (`checkDriver` with its
 * default plans: every schedule, shrinking and replay included) on the balloon driver, the
 * fastest of three runs. It must stay within a unit-test budget (seconds).
 */
export function driverKitBenchmarks(): BenchResult[] {
  let best = Number.POSITIVE_INFINITY;
  let last = checkDriverSync(balloon);
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    last = checkDriverSync(balloon);
    best = Math.min(best, performance.now() - start);
  }
  if (last.verdict !== 'pass') {
    throw new Error(
      `driver-kit bench: the kit failed ${last.driver}: ${last.findings[0]?.message}`,
    );
  }
  return [
    {
      name: `driver-kit default run (${last.driver})`,
      value: best,
      unit: 'ms',
      better: 'lower',
      description: `checkDriver(${last.driver}) with the default plans (${last.plans.map((p) => p.name).join(', ')}): ${last.schedules} schedules, fastest of 3 runs`,
      detail: {
        schedules: last.schedules,
        migrated: last.calls.migrated,
        migratePageCalls: last.calls.migratePage,
        verdict: last.verdict,
      },
    },
  ];
}
