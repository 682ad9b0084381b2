import type { Folio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { DependencyChecker, formatInversion, type InversionReport } from '../src/index.js';
import { hex, LONG, machine } from './helpers.js';

/** Edges of a report as `task: from -> to (heldIn / acquiredIn)`. */
function edges(report: InversionReport | undefined): string[] {
  return (report?.cycle ?? []).map(
    (e) => `${e.task.name}: ${e.from} -> ${e.to} (${e.heldIn} / ${e.how} in ${e.acquiredIn})`,
  );
}

describe('page-lock dependency checker', () => {
  test('AB-BA is reported although the in-order schedule does not deadlock', () => {
    const { rt, locks, folio } = machine({}, { dependencyChecking: true });
    const a = folio();
    const b = folio();
    const seen: InversionReport[] = [];
    const take = (first: Folio, second: Folio, fn1: string, fn2: string) =>
      function* (): KernelGen {
        yield* locks.folioLock(first, fn1);
        yield* locks.folioLock(second, fn2);
        locks.folioUnlock(second);
        locks.folioUnlock(first);
        seen.push(...(locks.checker?.reports ?? []));
      };
    rt.spawn('t1', 0, take(a, b, 'migrate_folio_unmap', 'try_split_folio'));
    rt.spawn('t2', 1, take(b, a, 'erofs_read_folio', 'filemap_get_pages'));
    expect(rt.run().status).toBe('completed');
    const reports = locks.checker?.reports ?? [];
    expect(reports).toHaveLength(1);
    expect(edges(reports[0])).toEqual([
      `t1: folio ${hex(a)} -> folio ${hex(b)} (migrate_folio_unmap / lock in try_split_folio)`,
      `t2: folio ${hex(b)} -> folio ${hex(a)} (erofs_read_folio / lock in filemap_get_pages)`,
    ]);
    // Found when t2 took its second lock, before any deadlock could happen.
    expect(seen).toEqual([reports[0]]);
    expect(formatInversion(reports[0]!)).toBe(
      [
        'possible page-lock deadlock: a dependency cycle of 2 lock classes',
        `  t1-1 holds folio ${hex(a)} (taken in migrate_folio_unmap) and takes folio ${hex(b)} in try_split_folio`,
        `  t2-2 holds folio ${hex(b)} (taken in erofs_read_folio) and takes folio ${hex(a)} in filemap_get_pages  <- closed the cycle`,
      ].join('\n'),
    );
  });

  test('two tasks locking in the same order: no report; the same cycle is reported once', () => {
    const { rt, locks, folio } = machine({ cpus: 4 }, { dependencyChecking: true });
    const a = folio();
    const b = folio();
    const take = (first: Folio, second: Folio) =>
      function* (): KernelGen {
        yield* locks.folioLock(first);
        yield* locks.folioLock(second);
        locks.folioUnlock(second);
        locks.folioUnlock(first);
      };
    rt.spawn('t1', 0, take(a, b));
    rt.spawn('t2', 1, take(a, b));
    rt.spawn('t3', 2, function* (): KernelGen {
      expect(locks.checker?.reports).toHaveLength(0);
      expect(locks.checker?.dependencies.map((e) => [e.from, e.to])).toEqual([
        [`folio ${hex(a)}`, `folio ${hex(b)}`],
      ]);
      yield* take(b, a)();
    });
    rt.spawn('t4', 3, take(b, a));
    expect(rt.run().status).toBe('completed');
    expect(locks.checker?.reports).toHaveLength(1);
  });

  test('a trylock adds no dependency into the lock it takes', () => {
    const { rt, locks, folio } = machine({}, { dependencyChecking: true });
    const a = folio();
    const b = folio();
    rt.spawn('t1', 0, function* (): KernelGen {
      yield* locks.folioLock(a);
      expect(locks.folioTrylock(b, 'migrate_folio_unmap')).toBe(true);
      expect(locks.checker?.heldBy(rt.current).map((h) => h.takenIn)).toEqual([
        'folio_lock',
        'migrate_folio_unmap',
      ]);
      locks.folioUnlock(b);
      locks.folioUnlock(a);
    });
    rt.spawn('t2', 1, function* (): KernelGen {
      yield* locks.folioLock(b);
      yield* locks.folioLock(a);
      locks.folioUnlock(a);
      locks.folioUnlock(b);
    });
    expect(rt.run().status).toBe('completed');
    expect(locks.checker?.reports).toHaveLength(0);
    expect(locks.checker?.dependencies.map((e) => e.task.name)).toEqual(['t2']);
  });

  test('holding A while waiting for B writeback, against owning B writeback while locking A', () => {
    const { rt, locks, folio } = machine({}, { dependencyChecking: true });
    const a = folio();
    const b = folio();
    // The loop worker (reference 4.3): B is a loop-device page under writeback; finishing it
    // writes into the backing file, which locks A. The schedule gets through.
    rt.spawn('loop', 0, function* (): KernelGen {
      yield* locks.folioLock(b, 'write_cache_pages');
      locks.folioStartWriteback(b, 'write_cache_pages');
      locks.folioUnlock(b);
      yield* locks.folioLock(a, 'shmem_write_begin');
      locks.folioUnlock(a);
      yield* rt.sleepFor(LONG);
      locks.folioEndWriteback(b);
    });
    rt.spawn('compact', 1, function* (): KernelGen {
      yield* rt.sleepFor(10);
      yield* locks.folioLock(a, 'migrate_pages_batch');
      yield* locks.folioWaitWriteback(b, 'migrate_pages_batch');
      locks.folioUnlock(a);
    });
    expect(rt.run().status).toBe('completed');
    const reports = locks.checker?.reports ?? [];
    expect(reports).toHaveLength(1);
    expect(edges(reports[0])).toEqual([
      `loop: writeback of folio ${hex(b)} -> folio ${hex(a)} (write_cache_pages / lock in shmem_write_begin)`,
      `compact: folio ${hex(a)} -> writeback of folio ${hex(b)} (migrate_pages_batch / wait in migrate_pages_batch)`,
    ]);
    expect(formatInversion(reports[0]!)).toContain(
      `loop-1 owns writeback of folio ${hex(b)} (started in write_cache_pages) and takes folio ${hex(a)} in shmem_write_begin`,
    );
    expect(formatInversion(reports[0]!)).toContain(
      `compact-2 holds folio ${hex(a)} (taken in migrate_pages_batch) and waits for writeback of folio ${hex(b)} in migrate_pages_batch`,
    );
  });

  test('writeback handed to the task that ends it is no longer held by its starter', () => {
    const { rt, locks, folio } = machine({}, { dependencyChecking: true });
    const a = folio();
    const b = folio();
    const io = rt.spawn('io', 2, function* (): KernelGen {
      yield* rt.sleepFor(LONG);
      locks.folioEndWriteback(b);
    });
    rt.spawn('writer', 0, function* (): KernelGen {
      yield* locks.folioLock(b);
      locks.folioStartWriteback(b);
      locks.folioUnlock(b);
      locks.folioWritebackTransfer(b, io);
      yield* locks.folioLock(a);
      locks.folioUnlock(a);
    });
    rt.spawn('compact', 1, function* (): KernelGen {
      yield* rt.sleepFor(10);
      yield* locks.folioLock(a);
      yield* locks.folioWaitWriteback(b);
      locks.folioUnlock(a);
    });
    expect(rt.run().status).toBe('completed');
    expect(locks.checker?.reports).toHaveLength(0);
  });

  test('buffer locks: holding a folio lock while locking a buffer, against the inverse', () => {
    const { rt, locks, folio } = machine({}, { dependencyChecking: true });
    const backing = folio();
    const dev = folio();
    const bh = locks.createBuffers(dev, 4).thisPage;
    rt.spawn('loop', 0, function* (): KernelGen {
      yield* locks.lockBuffer(bh, 'submit_bh');
      yield* locks.folioLock(backing, 'shmem_write_begin');
      locks.folioUnlock(backing);
      locks.unlockBuffer(bh);
    });
    rt.spawn('kcompactd', 1, function* (): KernelGen {
      yield* locks.folioLock(backing, 'migrate_folio_unmap');
      yield* locks.lockBuffer(bh, 'buffer_migrate_lock_buffers');
      locks.unlockBuffer(bh);
      locks.folioUnlock(backing);
    });
    expect(rt.run().status).toBe('completed');
    expect(edges(locks.checker?.reports[0])).toEqual([
      `loop: buffer 1 of folio ${hex(dev)} -> folio ${hex(backing)} (submit_bh / lock in shmem_write_begin)`,
      `kcompactd: folio ${hex(backing)} -> buffer 1 of folio ${hex(dev)} (migrate_folio_unmap / lock in buffer_migrate_lock_buffers)`,
    ]);
  });

  test('coarser classes find an inversion between different folios of the same mappings', () => {
    const mapping = new Map<Folio, string>();
    const { rt, locks, folio } = machine(
      {},
      { dependencyChecking: { classOf: (f) => mapping.get(f) ?? 'anon' } },
    );
    const [a1, a2, b1, b2] = [folio(), folio(), folio(), folio()];
    for (const f of [a1, a2]) mapping.set(f, 'page cache of file A');
    for (const f of [b1, b2]) mapping.set(f, 'page cache of file B');
    const take = (first: Folio, second: Folio) =>
      function* (): KernelGen {
        yield* locks.folioLock(first);
        yield* locks.folioLock(second);
        locks.folioUnlock(second);
        locks.folioUnlock(first);
      };
    rt.spawn('t1', 0, take(a1, b1));
    rt.spawn('t2', 1, take(b2, a2));
    rt.spawn('t3', 2, take(a1, a2)); // same class twice: no self-dependency
    expect(rt.run().status).toBe('completed');
    const reports = locks.checker?.reports ?? [];
    expect(reports).toHaveLength(1);
    expect(reports[0]?.cycle.map((e) => `${e.from} -> ${e.to}`)).toEqual([
      'page cache of file A -> page cache of file B',
      'page cache of file B -> page cache of file A',
    ]);
  });

  test('onInversion is called with each report as it is made', () => {
    const got: InversionReport[] = [];
    const { rt, locks, folio } = machine(
      {},
      { dependencyChecking: { onInversion: (r) => got.push(r) } },
    );
    const a = folio();
    const b = folio();
    rt.spawn('t1', 0, function* (): KernelGen {
      yield* locks.folioLock(a);
      yield* locks.folioLock(b);
      locks.folioUnlock(b);
      locks.folioUnlock(a);
      expect(got).toHaveLength(0);
      yield* locks.folioLock(b);
      yield* locks.folioLock(a);
      expect(got).toHaveLength(1);
      locks.folioUnlock(a);
      locks.folioUnlock(b);
    });
    expect(rt.run().status).toBe('completed');
    expect(got).toEqual(locks.checker?.reports);
  });

  test('checker off: no checker, nothing recorded, same behaviour', () => {
    const { rt, locks, folio } = machine();
    const a = folio();
    const b = folio();
    expect(locks.checker).toBe(null);
    rt.spawn('t1', 0, function* (): KernelGen {
      yield* locks.folioLock(a);
      yield* locks.folioLock(b);
      locks.folioUnlock(b);
      locks.folioUnlock(a);
      yield* locks.folioLock(b);
      yield* locks.folioLock(a);
      locks.folioUnlock(a);
      locks.folioUnlock(b);
    });
    expect(rt.run().status).toBe('completed');
    expect(locks.checker).toBe(null);
  });
});

describe('derived lock classes', () => {
  // The writeback and buffer class names are kept by folio class, for every checker.
  test('follow the folio class as it is now, for any checker and buffer index', () => {
    const classes = new Map<Folio, string>([[0x10, 'a.img[1]']]);
    const checker = new DependencyChecker({ classOf: (f) => classes.get(f) ?? `frame ${f}` });
    const other = new DependencyChecker();
    expect(checker.writebackClass(0x10)).toBe('writeback of a.img[1]');
    expect(checker.bufferClass(0x10, 0)).toBe('buffer 0 of a.img[1]');
    expect(checker.bufferClass(0x10, 3)).toBe('buffer 3 of a.img[1]');
    expect(checker.bufferClass(0x10, 64)).toBe('buffer 64 of a.img[1]');
    expect(checker.bufferClass(0x10, 1000)).toBe('buffer 1000 of a.img[1]');
    // The folio now caches another page: its derived classes change with it.
    classes.set(0x10, 'b.img[2]');
    expect(checker.writebackClass(0x10)).toBe('writeback of b.img[2]');
    expect(checker.bufferClass(0x10, 3)).toBe('buffer 3 of b.img[2]');
    classes.delete(0x10);
    expect(checker.bufferClass(0x10, 0)).toBe('buffer 0 of frame 16');
    // Another checker with the default classes.
    expect(other.writebackClass(0x10)).toBe('writeback of folio 0x10');
    expect(other.bufferClass(0x10, 3)).toBe('buffer 3 of folio 0x10');
    // Asked again: the same names, as first made.
    classes.set(0x10, 'a.img[1]');
    expect(checker.writebackClass(0x10)).toBe('writeback of a.img[1]');
    expect(checker.bufferClass(0x10, 3)).toBe('buffer 3 of a.img[1]');
  });
});
