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
 * /sys/devices/system/node/node<nid>/vmstat as text: node `nid`'s own items, `name value`
 * lines in the kernel's order (6.3 `node_read_vmstat`). The event counters are global
 * and appear only in /proc/vmstat.
 */
export function formatNodeVmstat(vmstat: VmStat, nid: number): string {
  return vmstat
    .nodeEntries(nid)
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
