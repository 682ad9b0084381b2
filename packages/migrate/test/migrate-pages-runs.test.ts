import { runAll, spawn } from '@mmsim/lru/test';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_STEPS,
  defineVariant,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MR_SYSCALL,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
} from '../src/testing/index.js';

/*
 * `migrate_pages()` of the batch engine and `migrate_pages_sync` are iterators that step
 * their calls themselves (docs/performance.md, "The generator stack a migrating task
 * resumes through"). They must take the generators' steps: each batch call starts in the `next()` in which the previous
 * one returned (no scheduling point of its own, none lost), its scheduling points are the
 * task's, and its result and statistics are the kernel's.
 */

type BatchArgs = Parameters<typeof BUILTIN_STEPS.migratePagesBatch>;

/**
 * A variant whose batch step logs its calls and passes real scheduling points: the async
 * phase (MIGRATE_ASYNC) passes two and leaves every folio on `from` (as -EAGAIN leftovers,
 * so that each goes alone through the synchronous phase); a later batch passes one, then
 * runs the built-in batch.
 */
function probeVariant(log: string[]) {
  function* probe(...args: BatchArgs): KernelGen<number> {
    const [, from, , mode, , , , , nrPass] = args;
    const phase = mode === MIGRATE_ASYNC ? 'async' : 'one';
    log.push(`${phase} start ${from.size} x${nrPass}`);
    if (phase === 'async') {
      yield;
      yield;
      log.push('async end 0');
      return 0;
    }
    yield;
    const rc = yield* BUILTIN_STEPS.migratePagesBatch(...args);
    log.push(`one end ${rc}`);
    return rc;
  }
  return defineVariant({
    name: 'sync-probe',
    extends: 'v6.3',
    steps: { migratePagesBatch: probe },
  });
}

/** `gen`, logging each `next()` the runtime makes once `armed` (the one it is in is not counted). */
function* counted(gen: KernelGen, log: string[], armed: { on: boolean }): KernelGen {
  let n = 0;
  for (;;) {
    if (armed.on) log.push(`resume ${++n}`);
    const r = gen.next();
    if (r.done === true) return;
    yield;
  }
}

describe('migrate_pages_sync as an iterator', () => {
  it('starts each batch in the step the previous one returned in, with the kernel result', () => {
    const log: string[] = [];
    const m = createMigrateMachine({ variant: probeVariant(log) });
    const armed = { on: false };
    spawn(m, 'migrate', 0, () =>
      counted(
        (function* (): KernelGen {
          const { list } = yield* anonIsolated(m, 3);
          armed.on = true;
          log.push('call');
          const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
          log.push(`rc ${rc} succeeded ${stats.nrSucceeded} failed ${stats.nrFailedPages}`);
          expect(list.size).toBe(0);
        })(),
        log,
        armed,
      ),
    );
    runAll(m);
    const calls = log.slice(log.indexOf('call'));
    expect(calls).toEqual([
      'call',
      'async start 3 x3',
      'resume 1',
      'resume 2',
      'async end 0',
      'one start 1 x7',
      'resume 3',
      'one end 0',
      'one start 1 x7',
      'resume 4',
      'one end 0',
      'one start 1 x7',
      'resume 5',
      'one end 0',
      'rc 0 succeeded 3 failed 0',
    ]);
    expectQuiescent(m);
  });

  it('ends with the async batch that fails with -ENOMEM, its failures counted', () => {
    const log: string[] = [];
    function* nomem(...args: BatchArgs): KernelGen<number> {
      const [, from, , mode, , retFolios, , stats] = args;
      log.push(`${mode === MIGRATE_ASYNC ? 'async' : 'one'} ${from.size}`);
      yield;
      stats.nrFailedPages += from.size;
      from.spliceTailInit(retFolios);
      return -12;
    }
    const variant = defineVariant({
      name: 'sync-nomem',
      extends: 'v6.3',
      steps: { migratePagesBatch: nomem },
    });
    const m = createMigrateMachine({ variant });
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { list } = yield* anonIsolated(m, 2);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
      log.push(`rc ${rc} failed ${stats.nrFailedPages} left ${list.size}`);
      yield* m.core.putbackMovablePages(list);
    });
    runAll(m);
    expect(log).toEqual(['async 2', 'rc -12 failed 2 left 2']);
    expectQuiescent(m);
  });

  it('migrate_pages() starts each carved batch in the step the previous one returned in', () => {
    const log: string[] = [];
    function* probe(...args: BatchArgs): KernelGen<number> {
      const [, from, , , , , , , nrPass] = args;
      log.push(`batch ${from.size} x${nrPass}`);
      yield;
      const rc = yield* BUILTIN_STEPS.migratePagesBatch(...args);
      log.push(`end ${rc}`);
      return rc;
    }
    const variant = defineVariant({
      name: 'two-batches',
      extends: 'v6.3',
      batchSize: 2,
      steps: { migratePagesBatch: probe },
    });
    const m = createMigrateMachine({ variant });
    const armed = { on: false };
    spawn(m, 'migrate', 0, () =>
      counted(
        (function* (): KernelGen {
          const { list } = yield* anonIsolated(m, 3);
          armed.on = true;
          log.push('call');
          const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
          log.push(`rc ${rc} succeeded ${stats.nrSucceeded} left ${list.size}`);
        })(),
        log,
        armed,
      ),
    );
    runAll(m);
    expect(log.slice(log.indexOf('call'))).toEqual([
      'call',
      'batch 2 x10',
      'resume 1',
      'end 0',
      'batch 1 x10',
      'resume 2',
      'end 0',
      'rc 0 succeeded 3 left 0',
    ]);
    expectQuiescent(m);
  });
});
