import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './usage-error.js';

/**
 * `<dir>/node<nid>/vmstat`, as /sys/devices/system/node lays the per-node files out; the
 * `node<nid>` directory is created. A directory that cannot be made is a usage error
 * naming the path and the reason.
 */
export function nodeVmstatPath(dir: string, nid: number): string {
  const nodeDir = join(dir, `node${nid}`);
  try {
    mkdirSync(nodeDir, { recursive: true });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(`--node-vmstat: cannot create ${nodeDir}: ${reason}`);
  }
  return join(nodeDir, 'vmstat');
}
