import { type KernelGen, Mutex, type RunResult, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  explore,
  formatFinding,
  type Invariant,
  QUIESCENT_AT_END,
  replay,
  runtimeInvariants,
} from '../src/index.js';
import { abba, lostUpdate } from './targets.js';

describe('formatFinding', () => {
  test('a deadlock: the cycle, the token, then every step with task, CPU and where it slept', () => {
    const result = explore(abba(), { strategy: { kind: 'dfs', preemptionBound: 1 } });
    const text = formatFinding(result.finding!);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^deadlock in target "ab-ba-opposite" \(seed 1\): \d+ step\(s\)/);
    expect(text).toContain('deadlock: a wait-for cycle of 2 task(s)');
    expect(text).toContain('ab-1 [cpu 0] waits in lock_second for mutex B, held by ba-2 [cpu 1]');
    expect(text).toContain(`replay: ${result.replay}`);
    const steps = lines.filter((l) => /^ {2}\d+[ *!] /.test(l));
    expect(steps).toHaveLength(result.finding!.shape.steps);
    steps.forEach((line, i) => {
      expect(line).toMatch(new RegExp(`^ {2}${i + 1}[ *!] (ab-1 on cpu 0|ba-2 on cpu 1): `));
    });
    expect(steps.some((l) => l.includes('sleeps in lock_second on mutex B (held by ba-2)'))).toBe(
      true,
    );
    expect(steps.some((l) => l.includes('sleeps in lock_second on mutex A (held by ab-1)'))).toBe(
      true,
    );
    expect(steps.filter((l) => /^ {2}\d+! /.test(l))).toHaveLength(
      result.finding!.shape.preemptions,
    );
  });

  test('the tracepoints a task emitted are listed in its step', () => {
    const result = explore(lostUpdate(), { seed: 1 });
    const text = formatFinding(result.finding!);
    expect(text).toContain('invariant counter-equals-increments failed after a step');
    expect(text).toMatch(/\d+[ *!] inc-\d on cpu \d: inc_read value=0/);
    expect(text).toMatch(/\d+[ *!] inc-\d on cpu \d: inc_write value=1/);
    // The report is built from the recorded steps, which a replay reproduces.
    expect(formatFinding(replay(lostUpdate(), result.replay!).finding!)).toBe(text);
  });

  test('maxSteps shortens the step list; a finding without steps says how to get them', () => {
    const result = explore(lostUpdate(), { seed: 1 });
    const short = formatFinding(result.finding!, { maxSteps: 2 });
    expect(short).toMatch(/ {2}2[ *!] /);
    expect(short).not.toMatch(/ {2}3[ *!] /);
    expect(short).toContain(`... ${result.finding!.shape.steps - 2} more step(s)`);
    expect(formatFinding(result.original!)).toContain('steps: not recorded');
  });
});

describe('runtime invariants', () => {
  test('quiescent-at-end names tasks that did not finish and locks still held', () => {
    const seen: (string | null)[] = [];
    const fake = {} as RunResult;
    let check: Invariant | undefined;
    const rt = new Runtime({
      cpus: 1,
      onStep: () => seen.push(check!.check('end', fake)),
    });
    check = runtimeInvariants(rt).find((i) => i.name === QUIESCENT_AT_END);
    const m = new Mutex(rt, 'mutex M');
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* m.lock();
      yield;
      m.unlock();
    });
    expect(check!.check('step')).toBeNull(); // an end check only
    rt.run();
    expect(seen).toEqual([
      'all tasks finished, but holder-1 is still runnable; holder-1 holds mutex M',
      null,
    ]);
  });
});
