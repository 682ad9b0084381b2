import { describe, expect, test } from 'vitest';
import {
  type KernelGen,
  MmsimError,
  Mutex,
  Runtime,
  Spinlock,
  type Strategy,
  type Task,
  type TraceEvent,
} from '../src/index.js';
import { interleaving } from './helpers.js';

describe('strategies', () => {
  test('in-order runs each task until it ends, lowest id first', () => {
    const { result, log } = interleaving({ strategy: 'in-order' });
    expect(log).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);
    expect(result.status).toBe('completed');
    expect(result.decisions).toBeGreaterThan(0);
  });

  test('random and PCT reach orders that in-order never does', () => {
    const inOrder = interleaving({ strategy: 'in-order' }).log.join();
    const seen = (strategy: 'random' | 'pct') => {
      const orders = new Set<string>();
      for (let seed = 1; seed <= 30; seed++)
        orders.add(interleaving({ strategy, seed }).log.join());
      return orders;
    };
    const random = seen('random');
    const pct = seen('pct');
    expect([...random].some((o) => o !== inOrder)).toBe(true);
    expect([...pct].some((o) => o !== inOrder)).toBe(true);
    // Random scheduling explores many distinct interleavings, not one alternative.
    expect(random.size).toBeGreaterThan(10);
  });

  test('PCT with depth 1 never preempts: the highest random priority runs to the end', () => {
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const { log } = interleaving({ strategy: { kind: 'pct', depth: 1 }, seed });
      const runs = log.filter((id, i) => i === 0 || log[i - 1] !== id);
      expect(runs).toHaveLength(3);
      firsts.add(log[0] as number);
    }
    // The priorities are random: every task gets to go first for some seed.
    expect([...firsts].sort()).toEqual([1, 2, 3]);
  });

  test('PCT with depth 2 preempts at most once, at its change point', () => {
    const segmentCounts = new Set<number>();
    for (let seed = 1; seed <= 30; seed++) {
      const { log } = interleaving({ strategy: { kind: 'pct', depth: 2, steps: 9 }, seed });
      segmentCounts.add(log.filter((id, i) => i === 0 || log[i - 1] !== id).length);
    }
    expect([...segmentCounts].sort()).toEqual([3, 4]);
  });

  test('lowest-clock follows virtual time', () => {
    const rt = new Runtime({ cpus: 2, strategy: 'lowest-clock' });
    const log: string[] = [];
    rt.spawn('slow', 0, function* (): KernelGen {
      for (let i = 0; i < 3; i++) {
        log.push(`slow@${rt.current.cpu.clock}`);
        rt.charge(300);
        yield;
      }
    });
    rt.spawn('fast', 1, function* (): KernelGen {
      for (let i = 0; i < 6; i++) {
        log.push(`fast@${rt.current.cpu.clock}`);
        rt.charge(100);
        yield;
      }
    });
    const result = rt.run();
    expect(log).toEqual([
      'slow@0',
      'fast@0',
      'fast@100',
      'fast@200',
      'slow@300',
      'fast@300',
      'fast@400',
      'fast@500',
      'slow@600',
    ]);
    expect(result.virtualTimeNs).toBe(900);
  });

  test('a result has its fields in a fixed order and the latest CPU clock as its time', () => {
    // The order is what JSON prints; the latest clock may be any CPU's, not the last one's.
    const rt = new Runtime({ cpus: 3, strategy: 'in-order', seed: 5 });
    rt.spawn('long', 1, function* (): KernelGen {
      rt.charge(700);
      yield;
    });
    rt.spawn('short', 2, function* (): KernelGen {
      rt.charge(200);
      yield;
    });
    const result = rt.run();
    expect(Object.keys(result)).toEqual([
      'status',
      'deadlock',
      'steps',
      'decisions',
      'contextSwitches',
      'replayToken',
      'cpuClocks',
      'virtualTimeNs',
      'strategy',
      'seed',
    ]);
    expect(result.cpuClocks).toEqual([0, 700, 200]);
    expect(result.virtualTimeNs).toBe(700);
    expect(result.seed).toBe(5);
    expect(result.strategy).toBe('in-order');
  });

  test('a custom strategy object is used as given', () => {
    const last: Strategy = {
      name: 'highest-id',
      choose: (eligible: readonly Task[]) => eligible[eligible.length - 1] as Task,
    };
    const { log, result } = interleaving({ strategy: last }, 2, 2);
    expect(log).toEqual([2, 2, 1, 1]);
    expect(result.strategy).toBe('highest-id');
  });
});

describe('determinism and replay', () => {
  function traced(config: {
    seed?: number;
    strategy?: 'random' | 'pct' | { kind: 'replay'; token: string };
  }) {
    const rt = new Runtime({ cpus: 2, ...config });
    const events: string[] = [];
    rt.trace.on('*', (e: TraceEvent) =>
      events.push(`${e.ts} ${e.cpu} ${e.name} ${JSON.stringify(e.fields)}`),
    );
    const step = rt.trace.define<{ step: number }>('test_step');
    for (let i = 0; i < 4; i++) {
      rt.spawn(`w${i}`, i % 2, function* (): KernelGen {
        for (let s = 0; s < 5; s++) {
          rt.charge(10 + s);
          if (step.enabled) step.emit({ step: s });
          yield;
        }
      });
    }
    return { result: rt.run(), events };
  }

  test('the same seed gives the same token and the same trace; another seed differs', () => {
    const one = traced({ seed: 7, strategy: 'random' });
    const two = traced({ seed: 7, strategy: 'random' });
    const other = traced({ seed: 8, strategy: 'random' });
    expect(two.result.replayToken).toBe(one.result.replayToken);
    expect(two.events).toEqual(one.events);
    expect(one.events.length).toBeGreaterThan(20);
    expect(one.events.some((e) => e.includes('sched_switch'))).toBe(true);
    expect(other.result.replayToken).not.toBe(one.result.replayToken);
    expect(other.events).not.toEqual(one.events);
  });

  test('replaying a token reproduces the run exactly', () => {
    for (const strategy of ['random', 'pct'] as const) {
      const original = traced({ seed: 99, strategy });
      const replay = traced({ strategy: { kind: 'replay', token: original.result.replayToken } });
      expect(replay.events).toEqual(original.events);
      expect(replay.result.replayToken).toBe(original.result.replayToken);
      expect(replay.result.seed).toBe(99);
      expect(replay.result.strategy).toBe('replay');
    }
  });

  test('the result encodes its replay token when first read, the same string each time', () => {
    const { result } = traced({ seed: 7, strategy: 'random' });
    // An explorer reads the tokens of its findings only: the encoding waits for a read.
    const descriptor = Object.getOwnPropertyDescriptor(result, 'replayToken');
    expect(typeof descriptor?.get).toBe('function');
    expect(descriptor?.enumerable).toBe(true);
    const token = result.replayToken;
    expect(result.replayToken).toBe(token);
    expect(JSON.parse(JSON.stringify(result)).replayToken).toBe(token);
    expect({ ...result }.replayToken).toBe(token);
    const replayed = traced({ strategy: { kind: 'replay', token } });
    expect(replayed.result.replayToken).toBe(token);
  });

  test('a token replayed against another program diverges with a clear error', () => {
    const { result } = interleaving({ strategy: 'random', seed: 3 }, 3, 3);
    expect(() =>
      interleaving({ strategy: { kind: 'replay', token: result.replayToken } }, 2, 3),
    ).toThrow(expect.objectContaining({ code: 'REPLAY_DIVERGED' }));
  });

  test('malformed tokens are rejected', () => {
    for (const token of ['', 'nope', 'mmsim1.1.x', 'mmsim1.zz!.AA.AA', 'mmsim1.1..gA']) {
      expect(() => new Runtime({ strategy: { kind: 'replay', token } })).toThrow(
        expect.objectContaining({ code: 'INVALID_REPLAY_TOKEN' }),
      );
    }
  });

  test('a replay with a different explicit seed is refused', () => {
    const { result } = interleaving({ strategy: 'random', seed: 5 });
    expect(
      () => new Runtime({ seed: 6, strategy: { kind: 'replay', token: result.replayToken } }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  test('a long run of one task stays a short token', () => {
    const rt = new Runtime({ cpus: 2, strategy: 'in-order' });
    for (let t = 0; t < 2; t++) {
      rt.spawn(`loop${t}`, t, function* (): KernelGen {
        for (let i = 0; i < 100_000; i++) yield;
      });
    }
    const result = rt.run();
    expect(result.decisions).toBeGreaterThan(100_000);
    expect(result.replayToken.length).toBeLessThan(40);
  });
});

describe('tasks and time', () => {
  test('sleepFor wakes tasks in virtual-time order and moves their clock', () => {
    const rt = new Runtime({ cpus: 2 });
    const order: string[] = [];
    rt.spawn('late', 0, function* (): KernelGen {
      yield* rt.sleepFor(5000);
      order.push(`late@${rt.current.cpu.clock}`);
    });
    rt.spawn('early', 1, function* (): KernelGen {
      yield* rt.sleepFor(1000);
      order.push(`early@${rt.current.cpu.clock}`);
    });
    const result = rt.run();
    expect(order).toEqual(['early@1000', 'late@5000']);
    expect(result.status).toBe('completed');
  });

  test('join returns the joined task result after it ends', () => {
    const rt = new Runtime({ cpus: 2 });
    let got: unknown;
    const child = rt.spawn('child', 1, function* (): KernelGen<number> {
      yield* rt.sleepFor(100);
      return 42;
    });
    rt.spawn('parent', 0, function* (): KernelGen {
      got = yield* rt.join(child);
    });
    expect(rt.run().status).toBe('completed');
    expect(got).toBe(42);
  });

  test('a context switch on one CPU costs virtual time', () => {
    const rt = new Runtime({
      cpus: 1,
      strategy: 'random',
      seed: 2,
      costs: { contextSwitch: 1000 },
    });
    for (let i = 0; i < 2; i++) {
      rt.spawn(`t${i}`, 0, function* (): KernelGen {
        for (let s = 0; s < 10; s++) yield;
      });
    }
    const result = rt.run();
    expect(result.contextSwitches).toBeGreaterThan(0);
    expect(result.virtualTimeNs).toBe(result.contextSwitches * 1000);
  });

  test('an exception in a task ends the run as TASK_CRASHED', () => {
    const rt = new Runtime();
    rt.spawn('bad', 0, function* (): KernelGen {
      yield;
      throw new TypeError('boom');
    });
    expect(() => rt.run()).toThrow(expect.objectContaining({ code: 'TASK_CRASHED' }));
  });

  test('the step limit stops a livelock', () => {
    const rt = new Runtime({ maxSteps: 50 });
    rt.spawn('spin', 0, function* (): KernelGen {
      for (;;) yield;
    });
    const result = rt.run();
    expect(result.status).toBe('step-limit');
    expect(result.steps).toBe(50);
  });

  test('a runtime runs once', () => {
    const rt = new Runtime();
    rt.run();
    expect(() => rt.run()).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    expect(() => rt.spawn('late', 0, function* (): KernelGen {})).toThrow(MmsimError);
  });
});

describe('config validation', () => {
  test.each([
    [{ cpus: 0 }, /cpus/],
    [{ cpus: 2, cpuNodes: [0] }, /cpuNodes/],
    [{ cpuNodes: [-1] }, /cpuNodes\[0\]/],
    [{ seed: -1 }, /seed/],
    [{ seed: 1.5 }, /seed/],
    [{ maxSteps: 0 }, /maxSteps/],
    [{ costs: { copyPage4k: -1 } }, /costs\.copyPage4k/],
    [{ costs: { warpDrive: 1 } as never }, /costs\.warpDrive/],
    [{ strategy: 'fastest' as never }, /strategy/],
    [{ strategy: { kind: 'pct', depth: 0 } as const }, /depth/],
  ])('%j is rejected naming the field', (config, field) => {
    let error: unknown;
    try {
      new Runtime(config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MmsimError);
    expect((error as MmsimError).message).toMatch(field);
  });

  test('spawn on a CPU that does not exist is rejected', () => {
    const rt = new Runtime({ cpus: 2 });
    expect(() => rt.spawn('x', 2, function* (): KernelGen {})).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(rt.tasks).toHaveLength(0);
  });
});

test('onStep sees every step with the task that ran, in order', () => {
  const seen: string[] = [];
  const rt = new Runtime({
    cpus: 2,
    onStep: (task, step) => seen.push(`${step}:${task.name}`),
  });
  for (const name of ['a', 'b']) {
    rt.spawn(name, name === 'a' ? 0 : 1, function* (): KernelGen {
      yield;
    });
  }
  const result = rt.run();
  expect(seen).toEqual(['1:a', '2:a', '3:b', '4:b']);
  expect(result.steps).toBe(4);
});

describe('the context-switch hook', () => {
  test('is told of each task a CPU starts running, with the task that ran there before', () => {
    const rt = new Runtime({ cpus: 2, strategy: 'random', seed: 5 });
    const seen: string[] = [];
    rt.setContextSwitchHook((cpu, prev, next) => {
      expect(rt.currentTask).toBeNull();
      seen.push(`${cpu.id}:${prev?.name ?? '-'}>${next.name}`);
    });
    const body = function* (): KernelGen {
      for (let i = 0; i < 3; i++) yield;
    };
    rt.spawn('a', 0, body);
    rt.spawn('b', 0, body);
    rt.spawn('c', 1, body);
    const result = rt.run();
    // The first task of each CPU (from nothing), then one call per switch on a CPU.
    const firsts = seen.filter((s) => s.includes(':-'));
    expect(firsts.map((s) => s[0]).sort()).toEqual(['0', '1']);
    expect(seen.length).toBe(result.contextSwitches + 2);
    expect(seen.every((s) => !s.startsWith('1:') || s === '1:->c')).toBe(true);
    // Consecutive calls on CPU 0 chain: each one's prev is the previous one's next.
    const cpu0 = seen.filter((s) => s.startsWith('0:'));
    for (let i = 1; i < cpu0.length; i++) {
      expect(cpu0[i]!.split(':')[1]!.split('>')[0]).toBe(cpu0[i - 1]!.split('>')[1]);
    }
  });

  test('one per runtime; a second one is INVALID_STATE, a non-function INVALID_ARGUMENT', () => {
    const rt = new Runtime();
    rt.setContextSwitchHook(() => {});
    expect(() => rt.setContextSwitchHook(() => {})).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
    rt.setContextSwitchHook(null);
    rt.setContextSwitchHook(() => {});
    expect(() => rt.setContextSwitchHook(42 as never)).toThrow(MmsimError);
  });
});

describe('sched_switch and sched_wakeup as the kernel traces them', () => {
  /** The ftrace-like view of every sched_* event: `cpu comm-pid: name fields`. */
  function schedTrace(
    build: (rt: Runtime) => void,
    strategy: 'in-order' | 'lowest-clock' = 'in-order',
  ): string[] {
    const rt = new Runtime({ cpus: 2, strategy });
    const lines: string[] = [];
    const record = (e: TraceEvent) =>
      lines.push(`[${e.cpu}] ${e.comm}-${e.pid} @${e.ts}: ${e.name}: ${rt.trace.formatFields(e)}`);
    rt.trace.on('sched_switch', record);
    rt.trace.on('sched_wakeup', record);
    build(rt);
    rt.run();
    return lines;
  }
  const sw = (prev: string, pid: number, state: string, next: string, npid: number) =>
    `sched_switch: prev_comm=${prev} prev_pid=${pid} prev_prio=120 prev_state=${state} ==> next_comm=${next} next_pid=${npid} next_prio=120`;

  test('each task appears on its CPU from its first step: the idle task switches to it', () => {
    const lines = schedTrace((rt) => {
      rt.spawn('a', 0, function* (): KernelGen {
        rt.charge(10);
        yield;
      });
      rt.spawn('b', 1, function* (): KernelGen {
        rt.charge(5);
      });
    });
    expect(lines).toEqual([
      `[0] <idle>-0 @0: ${sw('swapper/0', 0, 'R', 'a', 1)}`,
      `[0] a-1 @10: ${sw('a', 1, 'X', 'swapper/0', 0)}`,
      `[1] <idle>-0 @0: ${sw('swapper/1', 0, 'R', 'b', 2)}`,
      `[1] b-2 @5: ${sw('b', 2, 'X', 'swapper/1', 0)}`,
    ]);
  });

  test('a sleeper leaves as D, its waker emits sched_wakeup, and it comes back from idle', () => {
    const lines = schedTrace((rt) => {
      const m = new Mutex(rt, 'm');
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
    const waiter = lines.filter((l) => l.includes('waiter'));
    expect(waiter).toEqual([
      expect.stringContaining(`[1] <idle>-0 @0: ${sw('swapper/1', 0, 'R', 'waiter', 2)}`),
      expect.stringContaining(`[1] waiter-2 @0: ${sw('waiter', 2, 'D', 'swapper/1', 0)}`),
      expect.stringMatching(
        /^\[0\] holder-1 @\d+: sched_wakeup: comm=waiter pid=2 prio=120 target_cpu=001$/,
      ),
      expect.stringContaining(`${sw('swapper/1', 0, 'R', 'waiter', 2)}`),
      expect.stringContaining(`${sw('waiter', 2, 'X', 'swapper/1', 0)}`),
    ]);
  });

  test('two tasks on one CPU: the preempted one leaves as R+; a timer wakes a sleeper from the task it interrupts', () => {
    const lines = schedTrace((rt) => {
      rt.spawn('x', 0, function* (): KernelGen {
        yield* rt.sleepFor(1000);
      });
      rt.spawn('y', 0, function* (): KernelGen {
        rt.charge(5000);
        yield;
      });
    });
    expect(lines).toContainEqual(expect.stringContaining(sw('x', 1, 'D', 'swapper/0', 0)));
    // y runs when x's timer fires: the wake-up is traced as y, and y is preempted (R+) for x.
    expect(lines).toContainEqual(
      expect.stringMatching(/^\[0\] y-2 @\d+: sched_wakeup: comm=x pid=1 prio=120 target_cpu=000$/),
    );
    expect(lines).toContainEqual(expect.stringContaining(sw('y', 2, 'R+', 'x', 1)));
  });

  test('a timer that fires on an idle CPU wakes its sleeper as the idle task', () => {
    const lines = schedTrace((rt) => {
      rt.spawn('x', 0, function* (): KernelGen {
        yield* rt.sleepFor(1000);
      });
    });
    expect(lines).toEqual([
      `[0] <idle>-0 @0: ${sw('swapper/0', 0, 'R', 'x', 1)}`,
      `[0] x-1 @0: ${sw('x', 1, 'D', 'swapper/0', 0)}`,
      '[0] <idle>-0 @1000: sched_wakeup: comm=x pid=1 prio=120 target_cpu=000',
      `[0] <idle>-0 @1000: ${sw('swapper/0', 0, 'R', 'x', 1)}`,
      `[0] x-1 @1000: ${sw('x', 1, 'X', 'swapper/0', 0)}`,
    ]);
  });

  test('a spinner keeps its CPU: no switch to idle, no sched_wakeup when the lock is handed over', () => {
    const lines = schedTrace((rt) => {
      const lock = new Spinlock(rt, 'l');
      rt.spawn('holder', 0, function* (): KernelGen {
        yield* lock.lock();
        rt.charge(100);
        yield;
        lock.unlock();
      });
      rt.spawn('spinner', 1, function* (): KernelGen {
        yield;
        yield* lock.lock();
        lock.unlock();
      });
    }, 'lowest-clock');
    const spinner = lines.filter((l) => l.includes('spinner'));
    expect(spinner).toEqual([
      `[1] <idle>-0 @0: ${sw('swapper/1', 0, 'R', 'spinner', 2)}`,
      expect.stringContaining(sw('spinner', 2, 'X', 'swapper/1', 0)),
    ]);
  });

  test('nothing is emitted and no CPU is marked when nobody listens', () => {
    const rt = new Runtime({ cpus: 1 });
    rt.spawn('a', 0, function* (): KernelGen {
      yield;
    });
    rt.run();
    expect(rt.cpus[0]?.traced).toBeNull();
  });
});

test('the runnable tasks stay in id order, and only they, through sleeps and wake-ups in any order', () => {
  const seen: string[] = [];
  // The lowest id first: the waker (task 1) goes on while it can.
  const strategy: Strategy = {
    name: 'first',
    choose(eligible: readonly Task[]): Task {
      for (const t of eligible) expect(t.state).toBe('runnable');
      seen.push(eligible.map((t) => t.id).join());
      return eligible[0] as Task;
    },
  };
  const rt = new Runtime({ cpus: 6, strategy });
  const gate = { name: 'gate', holders: () => [] };
  const sleepers: Task[] = [];
  rt.spawn('waker', 0, function* (): KernelGen {
    // Out of the way until every sleeper has slept (the timer fires when nothing runs).
    yield* rt.sleepFor(1000);
    for (const t of sleepers) expect(t.state).toBe('sleeping');
    for (const i of [3, 1, 4, 0, 2]) {
      expect(rt.wake(sleepers[i] as Task)).toBe(true);
      yield;
    }
  });
  for (let i = 0; i < 5; i++) {
    sleepers.push(
      rt.spawn(`s${i}`, i + 1, function* (): KernelGen {
        rt.blockCurrent('gate_wait', gate);
        yield;
        yield;
      }),
    );
  }
  const result = rt.run();
  expect(result.status).toBe('completed');
  for (const t of rt.tasks) expect(t.state).toBe('done');
  // Sleepers 2..6 woken as 5, 3, 6, 2, 4: each list in id order, with every woken task.
  expect(seen.slice(0, 12)).toEqual([
    '1,2,3,4,5,6',
    '2,3,4,5,6',
    '3,4,5,6',
    '4,5,6',
    '5,6',
    '1,5',
    '1,3,5',
    '1,3,5,6',
    '1,2,3,5,6',
    '1,2,3,4,5,6',
    '2,3,4,5,6',
    '2,3,4,5,6',
  ]);
});
