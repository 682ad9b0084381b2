import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MigratorRun } from '../src/actors/migrator-run.js';

/*
 * The migrator steps a sleeping migrate_pages() call itself (`MigratorRun`) instead of
 * resuming its body through `yield*` (docs/performance.md, "The generator stack a migrating
 * task resumes through"): a body written either way must take the same steps, in which
 * the same code runs, and end with the same values.
 */

/** A call that logs each part it runs and passes `sleeps` scheduling points. */
function* call(log: string[], name: string, sleeps: number, value: number): KernelGen<number> {
  log.push(`${name}:enter`);
  for (let i = 0; i < sleeps; i++) {
    yield;
    log.push(`${name}:resumed${i}`);
  }
  return value;
}

/** The calls a body makes: name, scheduling points inside, return value. */
const CALLS: readonly (readonly [string, number, number])[] = [
  ['a', 0, 1],
  ['b', 3, 2],
  ['c', 1, 3],
  ['d', 0, 4],
  ['e', 2, 5],
];

/** The reference: the calls through `yield*`, a scheduling point of the body's own after each. */
function* delegating(log: string[]): KernelGen<number> {
  let sum = 0;
  for (const [name, sleeps, value] of CALLS) {
    const r = yield* call(log, name, sleeps, value);
    log.push(`body:${name}=${r}`);
    sum += r;
    yield;
  }
  return sum;
}

/** The same body with the calls handed over to `run` at their first scheduling point. */
function* handingOver(log: string[], run: MigratorRun): KernelGen<number> {
  let sum = 0;
  for (const [name, sleeps, value] of CALLS) {
    const gen = call(log, name, sleeps, value);
    const first = gen.next();
    let r: number;
    if (first.done === true) r = first.value;
    else {
      run.handOver(gen);
      yield;
      r = run.returned as number;
    }
    log.push(`body:${name}=${r}`);
    sum += r;
    yield;
  }
  return sum;
}

/** Steps `it` to its end, marking each step in `log`; the steps and the end value. */
function stepAll(it: Iterator<void, unknown>, log: string[]): { steps: number; value: unknown } {
  for (let steps = 1; ; steps++) {
    log.push(`step${steps}`);
    const r = it.next();
    if (r.done === true) return { steps, value: r.value };
  }
}

function handingOverRun(log: string[]): MigratorRun {
  const run = new MigratorRun();
  run.body = handingOver(log, run) as unknown as KernelGen;
  return run;
}

describe('MigratorRun', () => {
  it('takes the steps of yield*, with the same parts in each and the same results', () => {
    const want: string[] = [];
    const wantEnd = stepAll(delegating(want), want);
    const got: string[] = [];
    const gotEnd = stepAll(handingOverRun(got), got);
    expect(gotEnd).toEqual(wantEnd);
    expect(got).toEqual(want);
    // 5 body points, 6 inside the calls, and the end.
    expect(wantEnd).toEqual({ steps: 12, value: 15 });
  });

  it('passes return() and throw() on to the call in progress, as yield* does', () => {
    for (const how of ['return', 'throw', 'throw-caught'] as const) {
      const seen: Record<string, string[]> = {};
      for (const kind of ['yield*', 'run'] as const) {
        const log: string[] = [];
        function* inner(): KernelGen<number> {
          try {
            log.push('inner:enter');
            yield;
            log.push('inner:resumed');
            yield;
            return 1;
          } catch (error) {
            log.push(`inner:caught ${String(error)}`);
            if (how === 'throw-caught') return 7;
            throw error;
          } finally {
            log.push('inner:finally');
          }
        }
        function* outer(run: MigratorRun | null): KernelGen<number> {
          try {
            let r: number;
            if (run === null) r = yield* inner();
            else {
              const gen = inner();
              const first = gen.next();
              if (first.done === true) r = first.value;
              else {
                run.handOver(gen);
                yield;
                r = run.returned as number;
              }
            }
            log.push(`outer:got ${r}`);
            yield;
            return r;
          } catch (error) {
            log.push(`outer:caught ${String(error)}`);
            return -1;
          } finally {
            log.push('outer:finally');
          }
        }
        let it: KernelGen<number>;
        if (kind === 'yield*') it = outer(null);
        else {
          const run = new MigratorRun();
          run.body = outer(run) as unknown as KernelGen;
          it = run as unknown as KernelGen<number>;
        }
        log.push(`next ${JSON.stringify(it.next())}`);
        log.push(`next ${JSON.stringify(it.next())}`);
        const r = how === 'return' ? it.return(9) : it.throw('boom');
        log.push(`${how} ${JSON.stringify(r)}`);
        log.push(`next ${JSON.stringify(it.next())}`);
        seen[kind] = log;
      }
      expect(seen.run, how).toEqual(seen['yield*']);
    }
  });
});
