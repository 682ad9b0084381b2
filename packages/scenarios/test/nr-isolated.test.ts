import { NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, instantiateScenario, kernelInvariants } from '../src/index.js';

/*
 * nr-isolated reads each node's two counters straight after every step; its messages name
 * the first node, and on a node nr_isolated_anon before nr_isolated_file, as /proc/vmstat
 * lists them.
 */
describe('nr-isolated', () => {
  function fresh() {
    const { kernel } = instantiateScenario(builtinScenario('rfc-lock-order'));
    const [inv] = kernelInvariants(kernel, { only: ['nr-isolated'] });
    return { k: kernel, inv: inv! };
  }

  it('holds at zero, step and end; a count in flight passes a step but not the end', () => {
    const { k, inv } = fresh();
    expect(inv.check('step')).toBeNull();
    expect(inv.check('end')).toBeNull();
    k.vmstat.modNodePageState(1, NodeStat.NR_ISOLATED_FILE, 4);
    expect(inv.check('step')).toBeNull();
    expect(inv.check('end')).toBe(
      'node 1 nr_isolated_file is 4 after every task ended: an isolation was not given back',
    );
  });

  it('finds a negative count on any node, the first node and anon first', () => {
    const { k, inv } = fresh();
    expect(k.nrNodes).toBe(2);
    k.vmstat.modNodePageState(1, NodeStat.NR_ISOLATED_ANON, -1);
    expect(inv.check('step')).toBe('node 1 nr_isolated_anon is -1');
    k.vmstat.modNodePageState(1, NodeStat.NR_ISOLATED_FILE, -2);
    expect(inv.check('step')).toBe('node 1 nr_isolated_anon is -1');
    k.vmstat.modNodePageState(1, NodeStat.NR_ISOLATED_ANON, 1);
    expect(inv.check('step')).toBe('node 1 nr_isolated_file is -2');
    k.vmstat.modNodePageState(0, NodeStat.NR_ISOLATED_FILE, 3);
    expect(inv.check('step')).toBe('node 1 nr_isolated_file is -2');
    expect(inv.check('end')).toBe(
      'node 0 nr_isolated_file is 3 after every task ended: an isolation was not given back',
    );
    k.vmstat.modNodePageState(0, NodeStat.NR_ISOLATED_ANON, -5);
    expect(inv.check('end')).toBe('node 0 nr_isolated_anon is -5');
  });
});
