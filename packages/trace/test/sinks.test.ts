import { MIGRATE_SYNC, MM_MIGRATE_PAGES, MM_MIGRATE_PAGES_START, MR_SYSCALL } from '@mmsim/migrate';
import { SET_MIGRATION_PTE } from '@mmsim/rmap';
import {
  type KernelGen,
  Mutex,
  Runtime,
  RwSemaphore,
  traceEvent,
  VmEvent,
  VmStat,
} from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  attachChromeTraceSink,
  attachFtraceSink,
  formatFtraceLine,
  formatVmstat,
  ftraceTimestamp,
  sleepLabel,
  vmstatDelta,
} from '../src/index.js';

/** A two-CPU run that emits the migrate tracepoints and a PTE event, under a seeded random schedule. */
function run(seed: number, attach: (rt: Runtime, vmstat: VmStat) => () => void) {
  const rt = new Runtime({ cpus: 2, strategy: 'random', seed });
  const vmstat = new VmStat(1);
  // The sinks print each event with the TP_printk its emitting package declared.
  const start = rt.trace.define(MM_MIGRATE_PAGES_START);
  const end = rt.trace.define(MM_MIGRATE_PAGES);
  const pte = rt.trace.define(SET_MIGRATION_PTE);
  const close = attach(rt, vmstat);
  for (const cpu of [0, 1]) {
    rt.spawn(`migrate${cpu}`, cpu, function* (): KernelGen {
      rt.charge(1_234_567);
      if (start.enabled) start.emit({ mode: MIGRATE_SYNC, reason: MR_SYSCALL });
      yield;
      rt.charge(2_000);
      if (pte.enabled) pte.emit({ addr: 0x7f0000001000, pte: 0x1234, order: 0 });
      vmstat.countVmEvents(VmEvent.PGMIGRATE_SUCCESS, 1);
      yield;
      if (end.enabled) {
        end.emit({
          succeeded: 1,
          failed: 0,
          thp_succeeded: 0,
          thp_failed: 0,
          thp_split: 0,
          mode: MIGRATE_SYNC,
          reason: MR_SYSCALL,
        });
      }
    });
  }
  const result = rt.run();
  close();
  return result;
}

describe('ftrace text', () => {
  test('lines follow the trace file layout and the kernel TP_printk formats', () => {
    let text = '';
    run(1, (rt) => {
      const sink = attachFtraceSink(rt, (s) => {
        text += s;
      });
      return () => sink.close();
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('# tracer: nop');
    expect(text).toContain('#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION');
    const start = lines.find((l) => l.includes('mm_migrate_pages_start'))!;
    expect(start).toMatch(
      /^ {8}migrate[01]-[12] {6} \[00[01]\] \.\.\.\.\. {5}0\.001234: mm_migrate_pages_start: mode=MIGRATE_SYNC reason=syscall_or_cpuset$/,
    );
    const end = lines.find((l) => l.includes('mm_migrate_pages:'))!;
    expect(end).toContain(
      'mm_migrate_pages: nr_succeeded=1 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_SYNC reason=syscall_or_cpuset',
    );
    expect(lines.find((l) => l.includes('set_migration_pte'))).toContain(
      'set_migration_pte: addr=7f0000001000, pte=1234 order=0',
    );
  });

  test('the same seed gives byte-identical text; another seed differs', () => {
    const textOf = (seed: number) => {
      let text = '';
      run(seed, (rt) => {
        const sink = attachFtraceSink(rt, (s) => {
          text += s;
        });
        return () => sink.close();
      });
      return text;
    };
    expect(textOf(3)).toBe(textOf(3));
    const seeds = [4, 5, 6, 7, 8].map(textOf);
    expect(seeds.some((t) => t !== textOf(3))).toBe(true);
  });

  test('timestamps are seconds.microseconds of virtual time; unknown events print their fields', () => {
    expect(ftraceTimestamp(0)).toBe('    0.000000');
    expect(ftraceTimestamp(12_345_678_901)).toBe('   12.345678');
    const line = formatFtraceLine({
      name: 'my_event',
      ts: 1500,
      cpu: 3,
      pid: 42,
      comm: 'a-very-long-kthread-name',
      fields: { nr: 2, what: 'x' },
    });
    expect(line).toBe('a-very-long-kthr-42      [003] .....     0.000001: my_event: nr=2 what=x');
  });

  test("a user's own tracepoint prints with its own TP_printk: the sink knows no emitting package", () => {
    const rt = new Runtime({ cpus: 1 });
    let text = '';
    const sink = attachFtraceSink(
      rt,
      (s) => {
        text += s;
      },
      { header: false },
    );
    const tp = rt.trace.define(
      traceEvent<{ pfn: number; nr: number }>(
        'my_driver_move',
        (f) => `pfn=0x${f.pfn.toString(16)} nr=${f.nr}`,
      ),
    );
    rt.spawn('drv', 0, function* (): KernelGen {
      tp.emit({ pfn: 4096, nr: 2 });
    });
    rt.run();
    sink.close();
    expect(text).toMatch(/^ +drv-1 +\[000\] \.{5} +0\.000000: my_driver_move: pfn=0x1000 nr=2$/m);
  });
});

describe('Chrome / Perfetto JSON', () => {
  function chrome(seed: number) {
    let json = '';
    const result = run(seed, (rt, vmstat) => {
      const sink = attachChromeTraceSink(
        rt,
        (s) => {
          json += s;
        },
        { vmstat },
      );
      return () => sink.close({ seed, variant: 'v6.3', scenario: 'test' });
    });
    return { json, result };
  }

  test('is valid trace-event JSON with named tracks, balanced slices, instants, counters and metadata', () => {
    const { json } = chrome(1);
    const doc = JSON.parse(json) as {
      traceEvents: Array<Record<string, unknown>>;
      metadata: Record<string, unknown>;
    };
    const events = doc.traceEvents;
    const names = events
      .filter((e) => e.name === 'thread_name')
      .map((e) => (e.args as { name: string }).name);
    expect(names).toEqual(
      expect.arrayContaining(['CPU 0 (node 0)', 'CPU 1 (node 0)', 'migrate0-1', 'migrate1-2']),
    );
    // Begin and end events balance on every track, and never go back in time on one track.
    const depth = new Map<string, number>();
    const lastTs = new Map<string, number>();
    for (const e of events) {
      if (e.ph !== 'B' && e.ph !== 'E') continue;
      const track = `${e.pid}/${e.tid}`;
      const d = (depth.get(track) ?? 0) + (e.ph === 'B' ? 1 : -1);
      expect(d).toBeGreaterThanOrEqual(0);
      depth.set(track, d);
      expect(e.ts as number).toBeGreaterThanOrEqual(lastTs.get(track) ?? 0);
      lastTs.set(track, e.ts as number);
    }
    expect([...depth.values()].every((d) => d === 0)).toBe(true);
    const slices = events.filter((e) => e.name === 'migrate_pages' && e.ph === 'B');
    expect(slices).toHaveLength(2);
    expect(events.filter((e) => e.ph === 'i' && e.name === 'set_migration_pte')).toHaveLength(2);
    const counter = events.filter((e) => e.ph === 'C' && e.name === 'pgmigrate_success');
    // Sampled when a tracepoint fires, and only when the value changed: 0 at the first event.
    expect(counter.map((e) => (e.args as Record<string, number>).pgmigrate_success)).toEqual([
      0, 1, 2,
    ]);
    expect(doc.metadata).toEqual({ tool: 'mmsim', seed: 1, variant: 'v6.3', scenario: 'test' });
  });

  test('the same seed gives the same bytes', () => {
    expect(chrome(9).json).toBe(chrome(9).json);
  });

  test("a user's own tracepoints draw the slices and flows they declare: the sink knows no package", () => {
    const rt = new Runtime({ cpus: 1 });
    let json = '';
    const sink = attachChromeTraceSink(rt, (s) => {
      json += s;
    });
    const begin = rt.trace.define(
      traceEvent<{ id: number }>('drv_compact_begin', undefined, {
        slice: 'drv_compact',
        phase: 'begin',
      }),
    );
    const end = rt.trace.define(
      traceEvent<{ id: number }>('drv_compact_end', undefined, {
        slice: 'drv_compact',
        phase: 'end',
      }),
    );
    const role = (phase: 'start' | 'end') =>
      ({
        flow: 'zspage',
        category: 'driver',
        phase,
        key: (f: { zspage: number }) => f.zspage,
      }) as const;
    const out = rt.trace.define(traceEvent('drv_zspage_out', undefined, role('start')));
    const back = rt.trace.define(traceEvent('drv_zspage_back', undefined, role('end')));
    rt.spawn('zsmalloc', 0, function* (): KernelGen {
      begin.emit({ id: 1 });
      out.emit({ zspage: 7 });
      out.emit({ zspage: 8 });
      yield;
      back.emit({ zspage: 8 });
      back.emit({ zspage: 7 });
      end.emit({ id: 1 });
    });
    rt.run();
    sink.close();
    const events = (JSON.parse(json) as { traceEvents: Array<Record<string, unknown>> })
      .traceEvents;
    const slices = events.filter((e) => e.name === 'drv_compact').map((e) => e.ph);
    expect(slices).toEqual(['B', 'E']);
    const flows = events.filter((e) => e.name === 'zspage').map((e) => [e.ph, e.cat, e.id]);
    // Paired by key: zspage 7 is flow 1 and zspage 8 is flow 2, whatever order they end in.
    expect(flows).toEqual([
      ['s', 'driver', 1],
      ['s', 'driver', 2],
      ['f', 'driver', 2],
      ['f', 'driver', 1],
    ]);
  });
});

describe('/proc/vmstat text', () => {
  test('name value lines in kernel order, and deltas of what changed', () => {
    const vm = new VmStat(2);
    const before = vm.entries();
    vm.countVmEvents(VmEvent.PGMIGRATE_SUCCESS, 512);
    vm.countVmEvents(VmEvent.THP_MIGRATION_SUCCESS, 2);
    const text = formatVmstat(vm);
    expect(text.split('\n')[0]).toBe('nr_free_pages 0');
    expect(text).toContain('\npgmigrate_success 512\n');
    expect(text.indexOf('pgmigrate_success')).toBeLessThan(text.indexOf('thp_migration_success'));
    expect(vmstatDelta(before, vm)).toEqual([
      ['pgmigrate_success', 512],
      ['thp_migration_success', 2],
    ]);
  });
});

describe('sleeps on a Perfetto timeline', () => {
  interface Ev {
    ph: string;
    pid?: number;
    tid?: number;
    ts?: number;
    id?: number;
    name?: string;
    cat?: string;
    args?: Record<string, unknown>;
  }
  function chromeOf(
    build: (rt: Runtime) => void,
    strategy: 'in-order' | 'lowest-clock' = 'in-order',
  ): Ev[] {
    const rt = new Runtime({ cpus: 2, strategy });
    let json = '';
    const sink = attachChromeTraceSink(rt, (s) => {
      json += s;
    });
    build(rt);
    rt.run();
    sink.close();
    return (JSON.parse(json) as { traceEvents: Ev[] }).traceEvents;
  }

  test('a sleep is a slice named by what it waits for, with a flow from the waker', () => {
    const events = chromeOf((rt) => {
      const m = new Mutex(rt, 'A');
      rt.spawn('holder', 0, function* (): KernelGen {
        yield* m.lock();
        yield* rt.sleepFor(100);
        m.unlock();
      });
      rt.spawn('waiter', 1, function* (): KernelGen {
        yield* m.lock();
        m.unlock();
      });
    });
    const sleeps = events.filter((e) => e.cat === 'sleep' && e.ph === 'B');
    // The holder's timed sleep and the waiter's sleep on the mutex.
    expect(sleeps.map((e) => [e.tid, e.name])).toEqual([
      [1, 'timed sleep'],
      [2, 'mutex A'],
      [1, 'wake_up waiter-2'],
    ]);
    expect(sleeps[1]?.args).toEqual({ waitsIn: 'mutex_lock', resource: 'A' });
    // One flow: from the holder's release to the end of the waiter's sleep (none for the timer).
    const s = events.filter((e) => e.ph === 's');
    const f = events.filter((e) => e.ph === 'f');
    expect(s).toHaveLength(1);
    expect(f).toHaveLength(1);
    expect(s[0]).toMatchObject({ tid: 1, id: f[0]?.id });
    expect(f[0]).toMatchObject({ tid: 2 });
    expect(f[0]?.ts ?? 0).toBeGreaterThanOrEqual(s[0]?.ts ?? 0);
    // The waiter's sleep ends where the flow arrives.
    const waiterEnds = events.filter((e) => e.tid === 2 && e.pid === 2 && e.ph === 'E');
    expect(waiterEnds[0]?.ts).toBe(f[0]?.ts);
  });

  test('a deadlock leaves both tasks asleep to the end, marked unfinished', () => {
    const events = chromeOf((rt) => {
      const a = new Mutex(rt, 'A');
      const b = new Mutex(rt, 'B');
      rt.spawn('ab', 0, function* (): KernelGen {
        yield* a.lock();
        rt.charge(50);
        yield;
        yield* b.lock();
      });
      rt.spawn('ba', 1, function* (): KernelGen {
        yield* b.lock();
        yield;
        yield* a.lock();
      });
    }, 'lowest-clock');
    const end = Math.max(...events.map((e) => e.ts ?? 0));
    for (const [tid, lock] of [
      [1, 'mutex B'],
      [2, 'mutex A'],
    ] as const) {
      const slices = events.filter((e) => e.pid === 2 && e.tid === tid);
      expect(slices.filter((e) => e.ph === 'B').at(-1)?.name).toBe(lock);
      expect(slices.filter((e) => e.ph === 'E').at(-1)).toMatchObject({
        ts: end,
        args: { unfinished: true },
      });
    }
    // No CPU shows a task running after both went to sleep.
    const cpuB = events.filter((e) => e.pid === 1 && e.ph === 'B').length;
    const cpuE = events.filter((e) => e.pid === 1 && e.ph === 'E').length;
    expect(cpuE).toBe(cpuB);
  });

  test('sleep labels name folio locks, writeback, migration entries and buffer locks', () => {
    const rt = new Runtime({ cpus: 1 });
    const task = rt.spawn('t', 0, function* (): KernelGen {});
    const label = (waitsIn: string, name: string) => {
      task.waiting = { waitsIn, resource: { name, holders: () => [] } };
      return sleepLabel(task);
    };
    expect(label('folio_lock', 'folio 0x12 PG_locked')).toBe('folio lock of pfn 0x12');
    expect(label('folio_wait_writeback', 'folio 0x12 PG_writeback')).toBe('writeback of pfn 0x12');
    expect(label('migration_entry_wait', 'folio 0x12 PG_locked')).toBe(
      'migration entry of pfn 0x12',
    );
    expect(label('lock_buffer', 'buffer 0 of folio 0x3 BH_Lock')).toBe(
      'buffer lock of buffer 0 of folio 0x3',
    );
    expect(label('x', 'something else')).toBe('something else');
    task.waiting = { waitsIn: 'down_write', resource: new RwSemaphore(rt, 'i_mmap_rwsem') };
    expect(sleepLabel(task)).toBe('rwsem i_mmap_rwsem');
  });
});
