import { describe, expect, test } from 'vitest';
import {
  type KernelGen,
  NODE_STAT_NAMES,
  NodeStat,
  RandomStream,
  Runtime,
  traceEvent,
  VmEvent,
  VmStat,
} from '../src/index.js';
import { createRandomStreams } from '../src/internal.js';

describe('fault points', () => {
  test('an explicit call list fails exactly those calls', () => {
    const rt = new Runtime();
    const site = rt.faults.register('alloc_migration_target', 'the target allocation fails');
    rt.faults.configure({ alloc_migration_target: { calls: [2, 4] } });
    const outcomes = Array.from({ length: 5 }, () => site.fire());
    expect(outcomes).toEqual([false, true, false, true, false]);
    expect(site.injected).toBe(2);
  });

  test('probabilities come from the seed', () => {
    const run = (seed: number) => {
      const rt = new Runtime({ seed });
      const site = rt.faults.register('trylock', 'a trylock loses');
      rt.faults.configure({ trylock: { probability: 0.5 } });
      return Array.from({ length: 64 }, () => site.fire());
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    expect(run(1).filter(Boolean).length).toBeGreaterThan(16);
  });

  test('sites are off unless configured, and bad specs change nothing', () => {
    const rt = new Runtime();
    const site = rt.faults.register('extra_ref', 'someone takes an extra reference');
    expect(site.fire()).toBe(false);
    rt.faults.configure({ extra_ref: { calls: [1] } });
    expect(() => rt.faults.configure({ extra_ref: { probability: 2 } })).toThrow(/probability/);
    expect(() => rt.faults.configure({ nosuch: { calls: [1] } })).toThrow(/known sites: extra_ref/);
    expect(() =>
      rt.faults.configure({ extra_ref: { probability: 1 }, nosuch: { calls: [1] } }),
    ).toThrow();
    // The valid earlier spec is still the one in force.
    expect(site.fire()).toBe(true);
    expect(site.fire()).toBe(false);
  });
});

describe('random streams', () => {
  test('streams of one seed are independent and reproducible', () => {
    const a = createRandomStreams(42);
    const b = createRandomStreams(42);
    const draw = (s: RandomStream) => Array.from({ length: 8 }, () => s.int(0, 1000));
    const schedule = draw(a.schedule);
    expect(draw(b.schedule)).toEqual(schedule);
    // Drawing from one stream does not shift another.
    draw(a.faults);
    expect(draw(a.workload)).toEqual(draw(b.workload));
    expect(draw(a.workload)).not.toEqual(schedule);
  });

  test('float, chance, pick and shuffle stay in range', () => {
    const s = new RandomStream('t', 9);
    for (let i = 0; i < 1000; i++) {
      const f = s.float();
      expect(f >= 0 && f < 1).toBe(true);
    }
    expect(s.chance(0)).toBe(false);
    expect(s.chance(1)).toBe(true);
    expect([1, 2, 3]).toContain(s.pick([1, 2, 3]));
    expect(s.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(() => new RandomStream('t', -1)).toThrow(/seed/);
  });
});

describe('tracepoints', () => {
  test('a tracepoint is disabled until someone listens, and stamps events', () => {
    const rt = new Runtime({ cpus: 2 });
    const tp = rt.trace.define<{ nr: number }>('mm_test_event');
    expect(tp.enabled).toBe(false);
    const seen: string[] = [];
    const off = rt.trace.on('mm_test_event', (e) =>
      seen.push(`${e.comm}-${e.pid} [${e.cpu}] ${e.ts}: ${JSON.stringify(e.fields)}`),
    );
    expect(tp.enabled).toBe(true);
    rt.spawn('kcompactd0', 1, function* (): KernelGen {
      rt.charge(250);
      tp.emit({ nr: 3 });
      yield;
      off();
      if (tp.enabled) tp.emit({ nr: 4 });
    });
    rt.run();
    expect(seen).toEqual(['kcompactd0-1 [1] 250: {"nr":3}']);
    expect(tp.enabled).toBe(false);
  });

  test('a wildcard listener also hears tracepoints defined later', () => {
    const rt = new Runtime();
    const names: string[] = [];
    rt.trace.on('*', (e) => names.push(e.name));
    const late = rt.trace.define<{ x: number }>('defined_later');
    expect(late.enabled).toBe(true);
    late.emit({ x: 1 });
    expect(names).toEqual(['defined_later']);
    expect(() => rt.trace.define('Bad Name')).toThrow(/snake_case/);
  });

  test('an event prints with the TP_printk its definition declares, even when a sink subscribed first', () => {
    const rt = new Runtime();
    const lines: string[] = [];
    rt.trace.on('mm_demo', (e) => lines.push(rt.trace.formatFields(e)));
    rt.trace.on('plain_demo', (e) => lines.push(rt.trace.formatFields(e)));
    const demo = rt.trace.define(
      traceEvent<{ pfn: number }>('mm_demo', (f) => `pfn=0x${f.pfn.toString(16)}`),
    );
    const plain = rt.trace.define(traceEvent<{ pfn: number; ok: boolean }>('plain_demo'));
    demo.emit({ pfn: 255 });
    plain.emit({ pfn: 255, ok: true });
    // Looking a defined tracepoint up by name keeps its format.
    rt.trace.define<{ pfn: number }>('mm_demo').emit({ pfn: 16 });
    expect(lines).toEqual(['pfn=0xff', 'pfn=255 ok=true', 'pfn=0x10']);
  });
});

describe('vmstat', () => {
  test('node items are per node and summed globally; events are global', () => {
    const vm = new VmStat(2);
    vm.modNodePageState(0, NodeStat.NR_ISOLATED_ANON, 3);
    vm.modNodePageState(1, NodeStat.NR_ISOLATED_ANON, 2);
    vm.modNodePageState(1, NodeStat.NR_ISOLATED_ANON, -1);
    vm.countVmEvents(VmEvent.PGMIGRATE_SUCCESS, 512);
    vm.countVmEvents(VmEvent.PGMIGRATE_SUCCESS);
    expect(vm.nodePageState(1, NodeStat.NR_ISOLATED_ANON)).toBe(1);
    expect(vm.globalNodePageState(NodeStat.NR_ISOLATED_ANON)).toBe(4);
    const entries = new Map(vm.entries());
    expect(entries.get('nr_isolated_anon')).toBe(4);
    expect(entries.get('pgmigrate_success')).toBe(513);
    expect(VmStat.itemId('thp_migration_split')).toEqual({
      kind: 'event',
      id: VmEvent.THP_MIGRATION_SPLIT,
    });
    expect(() => VmStat.itemId('pgmigrate_sucess')).toThrow(/not a vmstat item/);
    expect(() => vm.modNodePageState(2, NodeStat.NR_ISOLATED_ANON, 1)).toThrow(/node 2/);
    expect(() => vm.modNodePageState(0, 999, 1)).toThrow(/NodeStat/);
    expect(() => vm.countVmEvents(-1)).toThrow(/VmEvent/);
    expect(vm.globalNodePageState(NodeStat.NR_ISOLATED_ANON)).toBe(4);
  });

  test('a node gauge reads its owner count per node; bad readers and items are typed errors', () => {
    const vm = new VmStat(2);
    const free = [10, 20];
    vm.setNodeGauge(NodeStat.NR_FREE_PAGES, (nid) => free[nid] as number);
    expect(vm.nodePageState(1, NodeStat.NR_FREE_PAGES)).toBe(20);
    free[1] = 5;
    expect(vm.globalNodePageState(NodeStat.NR_FREE_PAGES)).toBe(15);
    expect(new Map(vm.entries()).get('nr_free_pages')).toBe(15);
    expect(vm.nodeEntries(0)[0]).toEqual(['nr_free_pages', 10]);
    expect(vm.nodeEntries(1).map(([name]) => name)).toEqual([...NODE_STAT_NAMES]);
    expect(() => vm.setNodeGauge(NodeStat.NR_FREE_PAGES, () => 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
    expect(() => vm.setNodeGauge(999, () => 0)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => vm.setNodeGauge(NodeStat.NR_DIRTY, 3 as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => vm.nodeEntries(2)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('function tracing', () => {
  test('wrap hands back the generator untouched when nobody listens', () => {
    const rt = new Runtime();
    const gen = (function* (): KernelGen<number> {
      return 1;
    })();
    expect(rt.functions.wrap('f', gen)).toBe(gen);
    expect(rt.functions.enabled).toBe(false);
  });

  test('entry and exit events bracket the call, also when it throws', () => {
    const rt = new Runtime();
    const seen: string[] = [];
    rt.trace.on('funcgraph_entry', (e) => seen.push(`> ${(e.fields as { func: string }).func}`));
    rt.trace.on('funcgraph_exit', (e) => seen.push(`< ${(e.fields as { func: string }).func}`));
    function* inner(): KernelGen<number> {
      yield;
      return 7;
    }
    function* failing(): KernelGen {
      yield;
      throw new RangeError('boom');
    }
    let got = 0;
    rt.spawn('t', 0, function* (): KernelGen {
      got = yield* rt.functions.wrap('outer', rt.functions.wrap('inner', inner()));
      rt.functions.enter('plain');
      rt.functions.exit('plain');
      try {
        yield* rt.functions.wrap('failing', failing());
      } catch {
        seen.push('caught');
      }
    });
    rt.run();
    expect(got).toBe(7);
    expect(seen).toEqual([
      '> outer',
      '> inner',
      '< inner',
      '< outer',
      '> plain',
      '< plain',
      '> failing',
      '< failing',
      'caught',
    ]);
  });
});
