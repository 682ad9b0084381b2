import type { VmStat } from '@mmsim/runtime';

/**
 * /proc/vmstat as text: `name value` lines in the kernel's order, node items summed over
 * nodes. Existing vmstat-diff scripts read it as they read the real file.
 */
export function formatVmstat(vmstat: VmStat): string {
  return vmstat
    .entries()
    .map(([name, value]) => `${name} ${value}\n`)
    .join('');
}

/**
 * `after - before` for every item that changed, in /proc/vmstat order; `before` is a
 * snapshot taken with `vmstat.entries()`.
 */
export function vmstatDelta(
  before: ReadonlyArray<readonly [string, number]>,
  after: VmStat,
): Array<[string, number]> {
  const old = new Map<string, number>(before);
  return after
    .entries()
    .map(([name, value]): [string, number] => [name, value - (old.get(name) ?? 0)])
    .filter(([, delta]) => delta !== 0);
}
