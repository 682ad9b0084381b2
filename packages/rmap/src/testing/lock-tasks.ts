import type { Folio } from '@mmsim/folio';
import type { Completion, Task } from '@mmsim/runtime';
import type { RmapMachine } from './machine.js';

/**
 * A task on `cpu` that, once `ready` completes, locks `folio()`, completes `locked`, keeps
 * the lock for `ns` of virtual time, then unlocks: a competing lock holder.
 */
export function lockHolder(
  m: Pick<RmapMachine, 'rt' | 'locks'>,
  cpu: number,
  folio: () => Folio,
  ready: Completion,
  locked: Completion,
  ns: number,
): Task {
  return m.rt.spawn('holder', cpu, function* () {
    yield* ready.wait();
    const f = folio();
    yield* m.locks.folioLock(f, 'holder');
    locked.complete();
    yield* m.rt.sleepFor(ns);
    m.locks.folioUnlock(f);
  });
}

/**
 * A task on `cpu` that, once `ready` completes, starts writeback on `folio()` under its
 * lock (as a filesystem's writepages does), completes `started`, and ends the writeback
 * `ns` later, as I/O completion does.
 */
export function writebackIo(
  m: Pick<RmapMachine, 'rt' | 'locks'>,
  cpu: number,
  folio: () => Folio,
  ready: Completion,
  started: Completion,
  ns: number,
): Task {
  return m.rt.spawn('io', cpu, function* () {
    yield* ready.wait();
    const f = folio();
    yield* m.locks.folioLock(f, 'writepages');
    m.locks.folioStartWriteback(f, 'writepages');
    m.locks.folioUnlock(f);
    started.complete();
    yield* m.rt.sleepFor(ns);
    m.locks.folioEndWriteback(f);
  });
}
