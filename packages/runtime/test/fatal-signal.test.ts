import { describe, expect, test } from 'vitest';
import {
  FATAL_SIGNAL_SITE,
  fatalSignalPending,
  type KernelGen,
  PF_KTHREAD,
  Runtime,
} from '../src/index.js';

function runtime(seed = 7): Runtime {
  return new Runtime({ cpus: 2, seed, strategy: 'random' });
}

describe('fatalSignalPending (fatal_signal_pending) and its fault site', () => {
  test('off: false, the task untouched, the faults stream not consumed', () => {
    const rt = runtime();
    const before = rt.random.faults.float();
    const rt2 = runtime();
    let seen: boolean | null = null;
    rt2.spawn('t', 0, function* (task): KernelGen {
      seen = fatalSignalPending(rt2, task);
      yield;
    });
    rt2.run();
    expect(seen).toBe(false);
    expect(rt2.fatalSignalSite.calls).toBe(0);
    expect(rt2.random.faults.float()).toBe(before);
  });

  test('configured and fired: SIGKILL delivered, and it stays pending at later checks without new faults', () => {
    const rt = runtime();
    rt.faults.configure({ [FATAL_SIGNAL_SITE]: { calls: [2] } });
    const seen: boolean[] = [];
    const t = rt.spawn('t', 0, function* (task): KernelGen {
      for (let i = 0; i < 4; i++) {
        seen.push(fatalSignalPending(rt, task));
        yield;
      }
    });
    expect(rt.run().status).toBe('completed');
    expect(seen).toEqual([false, true, true, true]);
    expect(t.fatalSignalPending).toBe(true);
    expect(rt.fatalSignalSite.calls).toBe(2);
    expect(rt.fatalSignalSite.injected).toBe(1);
  });

  test('a kernel thread (PF_KTHREAD) never gets one', () => {
    const rt = runtime();
    rt.faults.configure({ [FATAL_SIGNAL_SITE]: { probability: 1 } });
    let seen: boolean | null = null;
    rt.spawn('kthread', 0, function* (task): KernelGen {
      task.flags |= PF_KTHREAD;
      seen = fatalSignalPending(rt, task);
      yield;
    });
    rt.run();
    expect(seen).toBe(false);
    expect(rt.fatalSignalSite.calls).toBe(0);
  });
});
