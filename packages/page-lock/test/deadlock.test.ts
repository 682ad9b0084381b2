import { createPhysicalMemory, type Folio, folioAlloc } from '@mmsim/folio';
import {
  type DeadlockReport,
  exploreExhaustively,
  formatDeadlock,
  type KernelGen,
  Runtime,
  type Strategy,
} from '@mmsim/runtime';
import { expect, test } from 'vitest';
import { PageLockTable } from '../src/index.js';
import { hex } from './helpers.js';

/** Two tasks taking two folio locks in opposite orders, with a scheduling point between. */
function abba(strategy: Strategy, dependencyChecking: boolean) {
  const rt = new Runtime({ cpus: 2, strategy });
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
  const locks = new PageLockTable(rt, mem, { dependencyChecking });
  const a = folioAlloc(mem, 0, 0);
  const b = folioAlloc(mem, 0, 0);
  const both = (first: Folio, second: Folio) =>
    function* (): KernelGen {
      yield* locks.folioLock(first, 'lock_first');
      yield;
      yield* locks.folioLock(second, 'lock_second');
      locks.folioUnlock(second);
      locks.folioUnlock(first);
    };
  rt.spawn('ab', 0, both(a, b));
  rt.spawn('ba', 1, both(b, a));
  return { result: rt.run(), a, b, locks };
}

test('AB-BA on two folio locks: some schedule deadlocks, and the cycle names the locks and holders', () => {
  const deadlocks: { report: DeadlockReport; a: Folio; b: Folio }[] = [];
  let completed = 0;
  let inversionsWhenCompleted = 0;
  const explored = exploreExhaustively((strategy) => {
    const { result, a, b, locks } = abba(strategy, true);
    if (result.status === 'deadlock' && result.deadlock !== null) {
      deadlocks.push({ report: result.deadlock, a, b });
    } else {
      expect(result.status).toBe('completed');
      completed++;
      // The checker sees the inversion even in a schedule that got through.
      if ((locks.checker?.reports.length ?? 0) > 0) inversionsWhenCompleted++;
    }
  });
  expect(explored.complete).toBe(true);
  expect(completed).toBeGreaterThan(0);
  expect(inversionsWhenCompleted).toBe(completed);
  expect(deadlocks.length).toBeGreaterThan(0);
  for (const { report, a, b } of deadlocks) {
    expect(
      report.cycle.map((e) => [e.task.name, e.waitsIn, e.resource, e.heldBy.map((t) => t.name)]),
    ).toEqual([
      ['ab', 'lock_second', `folio ${hex(b)} PG_locked`, ['ba']],
      ['ba', 'lock_second', `folio ${hex(a)} PG_locked`, ['ab']],
    ]);
  }
  const { report, a, b } = deadlocks[0]!;
  expect(formatDeadlock(report)).toBe(
    [
      'deadlock: a wait-for cycle of 2 task(s)',
      `  ab-1 [cpu 0] waits in lock_second for folio ${hex(b)} PG_locked, held by ba-2 [cpu 1]`,
      `  ba-2 [cpu 1] waits in lock_second for folio ${hex(a)} PG_locked, held by ab-1 [cpu 0]`,
    ].join('\n'),
  );
});
