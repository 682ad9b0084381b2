import type { Kernel } from '@mmsim/kernel';
import type { Invariant } from '@mmsim/runtime';
import { NodeStat } from '@mmsim/runtime';
import { firstProblem, strided } from './invariant.js';

/**
 * `lru-consistent`: the LRU view's checks (`LruView.check`): each folio on at most one list
 * or batch, PG_lru set exactly when listed (but inside an isolation in progress), list
 * sizes equal their folios' pages and vmstat. The end check also scans memory for PG_lru
 * on unlisted folios.
 */
export function lruConsistent(k: Kernel, stride: number): Invariant {
  return strided('lru-consistent', stride, (phase) =>
    firstProblem(k.lruView.check({ scanMemory: phase === 'end' })),
  );
}

/**
 * `nr-isolated`: NR_ISOLATED_ANON and NR_ISOLATED_FILE never go below 0 on any node (a
 * double decrement), and are 0 on every node when the run completes (every isolation was
 * given back or migrated: none leaked). Cheap: checked after every step.
 */
export function nrIsolated(k: Kernel): Invariant {
  return {
    name: 'nr-isolated',
    check(phase) {
      for (let nid = 0; nid < k.nrNodes; nid++) {
        for (const [item, name] of [
          [NodeStat.NR_ISOLATED_ANON, 'nr_isolated_anon'],
          [NodeStat.NR_ISOLATED_FILE, 'nr_isolated_file'],
        ] as const) {
          const value = k.vmstat.nodePageState(nid, item);
          if (value < 0) return `node ${nid} ${name} is ${value}`;
          if (phase === 'end' && value !== 0) {
            return `node ${nid} ${name} is ${value} after every task ended: an isolation was not given back`;
          }
        }
      }
      return null;
    },
  };
}
