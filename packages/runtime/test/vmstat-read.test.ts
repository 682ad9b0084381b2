import { describe, expect, test } from 'vitest';
import { NODE_STAT_NAMES, NodeStat, VmStat } from '../src/index.js';

// `nodePageState` tests its ids with `>>> 0` comparisons and a gauge bit: every id the
// former `Number.isInteger` checks refused must still be refused, with the same message, and
// every item must read its own slot (or its gauge).
describe('VmStat.nodePageState ids and gauges', () => {
  test('each node item reads its own value on each node', () => {
    // The gauge bits are one 32-bit word.
    expect(NODE_STAT_NAMES.length).toBeLessThan(32);
    const vm = new VmStat(3);
    for (let nid = 0; nid < 3; nid++) {
      for (let item = 0; item < NODE_STAT_NAMES.length; item++) {
        vm.modNodePageState(nid, item, 1000 * nid + item + 1);
      }
    }
    for (let nid = 0; nid < 3; nid++) {
      for (let item = 0; item < NODE_STAT_NAMES.length; item++) {
        expect(vm.nodePageState(nid, item)).toBe(1000 * nid + item + 1);
      }
    }
  });

  test('refuses node ids that are not integers in range, the node named first', () => {
    const vm = new VmStat(2);
    vm.modNodePageState(1, 0, 7);
    const item = NodeStat.NR_ISOLATED_ANON;
    // 0.5 * items + items / 2 would land on node 1's item 0 if only the sum were tested.
    const half = NODE_STAT_NAMES.length / 2;
    for (const nid of [-1, 2, 0.5, 1.5, Number.NaN, 2 ** 32, -(2 ** 32), Infinity]) {
      expect(() => vm.nodePageState(nid, item)).toThrow(/node .* is out of range \[0, 1\]/);
      expect(() => vm.nodePageState(nid, -1)).toThrow(/node .* is out of range/);
    }
    expect(() => vm.nodePageState(0.5, half)).toThrow(/node 0.5 is out of range/);
    expect(vm.nodePageState(-0, 0)).toBe(0);
  });

  test('refuses item ids that are not node items, on a valid node', () => {
    const vm = new VmStat(2);
    const n = NODE_STAT_NAMES.length;
    vm.modNodePageState(1, 0, 7);
    // Item n of node 0 would be node 1's first item if only the slot were tested.
    for (const item of [-1, n, n + 1, 0.5, Number.NaN, 2 ** 32, 31, 32]) {
      expect(() => vm.nodePageState(0, item)).toThrow(/node item .* is not in \[0, \d+\]/);
    }
  });

  test('a gauge is read through its reader, the other items from the counters', () => {
    const vm = new VmStat(2);
    vm.modNodePageState(1, NodeStat.NR_FREE_PAGES, 5);
    vm.modNodePageState(1, NodeStat.NR_MLOCK, 3);
    expect(vm.nodePageState(1, NodeStat.NR_FREE_PAGES)).toBe(5);
    vm.setNodeGauge(NodeStat.NR_FREE_PAGES, (nid) => 40 + nid);
    expect(vm.nodePageState(0, NodeStat.NR_FREE_PAGES)).toBe(40);
    expect(vm.nodePageState(1, NodeStat.NR_FREE_PAGES)).toBe(41);
    expect(vm.nodePageState(1, NodeStat.NR_MLOCK)).toBe(3);
    vm.setNodeGauge(NodeStat.NR_ISOLATED_FILE, () => -2);
    expect(vm.nodePageState(0, NodeStat.NR_ISOLATED_FILE)).toBe(-2);
    expect(vm.nodePageState(0, NodeStat.NR_ISOLATED_ANON)).toBe(0);
    expect(vm.globalNodePageState(NodeStat.NR_FREE_PAGES)).toBe(81);
  });
});
