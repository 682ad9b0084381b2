import { folioGet, folioNid, folioPut, pageContent, setPageContent } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import { Completion, EBUSY, EINVAL, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  DmaCopyMigrator,
  folioSetContentCopied,
  folioTestContentCopied,
  MIGRATE_ASYNC,
  MIGRATE_OFFLOAD_REASONS_ALLOWED,
  type MigrateReason,
  type Migrator,
  MR_LONGTERM_PIN,
  MR_SYSCALL,
  ThreadCopyMigrator,
  VARIANT_SETTING_KEYS,
  VARIANTS,
  type VariantName,
} from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  newSpy,
  spyingRmap,
} from '../src/testing/index.js';

/**
 * The batch-copy variant (RFC v6 of "Accelerate page migration with batch copying and
 * hardware offload", Shivank Garg, 2026-06-30): pre-copy by a registered provider after the
 * batch flush, FOLIO_CONTENT_COPIED, the move step skipping the copy, the reason mask, the
 * size threshold, the per-folio fallback, and SRCU around the provider.
 */

const PAGES = 16;
const N = PAGES;

interface Outcome {
  readonly rc: number;
  readonly succeeded: number;
  /** Content word of page i after the migration, read through the new folio. */
  readonly contents: number[];
  readonly nids: number[];
  /** Virtual ns the migrating CPU spent in migrate_pages. */
  readonly ns: number;
  readonly markedLeft: number;
}

/**
 * Migrates N anonymous pages (content 500 + i) to node 1 in one MIGRATE_ASYNC call, with
 * `provider` registered (default reasons) unless null; `extraRef` holds a reference on that
 * page's folio during the call (someone's get_page: refcount above the expected one).
 */
function migrateWith(
  variant: VariantName,
  provider: Migrator | null,
  options: {
    readonly reason?: MigrateReason;
    readonly extraRef?: number;
    readonly reasonMask?: number;
    readonly faults?: Record<string, { calls: number[] }>;
    readonly pages?: number;
  } = {},
): Outcome {
  const N = options.pages ?? PAGES;
  const m = buildMachine({ variant });
  if (options.faults !== undefined) m.rt.faults.configure(options.faults);
  if (provider !== null) {
    expect(m.core.copyOffload.register(provider, options.reasonMask)).toBe(0);
  }
  const mm = m.vm.createProcess('p');
  const addr = mapAnon(m, mm, N);
  let out: Outcome | null = null;
  spawn(m, 'migrate', 0, function* (): KernelGen {
    const task = m.rt.current;
    yield* writePages(m, mm, addr, N, (i) => 500 + i);
    const folios = foliosOf(m, mm, addr, N);
    const pinned = options.extraRef === undefined ? -1 : folios[options.extraRef]!;
    if (pinned >= 0) folioGet(m.mem, pinned);
    const list = newList(m);
    yield* isolateFolios(m, folios, list);
    const t0 = task.cpu.clock;
    const { rc, stats } = yield* migrateToNode(
      m,
      list,
      1,
      MIGRATE_ASYNC,
      options.reason ?? MR_SYSCALL,
    );
    const ns = task.cpu.clock - t0;
    yield* m.core.putbackMovablePages(list);
    if (pinned >= 0) folioPut(m.mem, pinned);
    const now = foliosOf(m, mm, addr, N);
    out = {
      rc,
      succeeded: stats.nrSucceeded,
      contents: now.map((f) => pageContent(m.mem, f)),
      nids: now.map((f) => folioNid(m.mem, f)),
      ns,
      markedLeft: now.filter((f) => folioTestContentCopied(m.mem, f)).length,
    };
  });
  runAll(m);
  expectQuiescent(m);
  return out!;
}

const EXPECTED = Array.from({ length: N }, (_, i) => 500 + i);

describe('batch-copy: pre-copy by a registered provider (RFC v6 2/5, 3/5, 4/5)', () => {
  it('dcbm copies the whole batch and the move step skips the CPU copy; contents arrive, no mark is left', () => {
    const dma = new DmaCopyMigrator({ channels: 4, minPages: 1 });
    const r = migrateWith('batch-copy', dma);
    expect(r.rc).toBe(0);
    expect(r.succeeded).toBe(N);
    expect(r.contents).toEqual(EXPECTED);
    expect(r.nids).toEqual(Array(N).fill(1));
    expect(dma.foliosMigrated).toBe(N);
    expect(dma.foliosFailures).toBe(0);
    expect(r.markedLeft).toBe(0);
  });

  it('the CPU-thread provider copies the batch too, and both are faster than the CPU copy of v6.11', () => {
    const pages = 128;
    const expected = Array.from({ length: pages }, (_, i) => 500 + i);
    const threads = new ThreadCopyMigrator({ threads: 4, minPages: 1 });
    const dma = new DmaCopyMigrator({ channels: 8, minPages: 1 });
    const mt = migrateWith('batch-copy', threads, { pages });
    const viaDma = migrateWith('batch-copy', dma, { pages });
    const cpu = migrateWith('v6.11', null, { pages });
    expect(threads.foliosMigrated).toBe(pages);
    expect(dma.foliosMigrated).toBe(pages);
    for (const r of [mt, viaDma, cpu]) expect(r.contents).toEqual(expected);
    // 128 pages: 4 threads copy 32 each after 3 start-ups; 8 channels 16 each after 8
    // set-ups; the CPU copies all 128 at copyPage4k.
    expect(mt.ns).toBeLessThan(cpu.ns);
    expect(viaDma.ns).toBeLessThan(cpu.ns);
    // And a 16-page batch is too small for the threads to pay for their start-up.
    const small = migrateWith('batch-copy', new ThreadCopyMigrator({ minPages: 1 }));
    expect(small.ns).toBeGreaterThan(migrateWith('v6.11', null).ns);
  });

  it('the move step trusts the mark: a provider that marks without copying publishes its own words', () => {
    // A deliberately wrong provider: writes 9999 into every dst and marks it copied.
    const liar: Migrator = {
      name: 'liar',
      *offloadCopy(offload, dsts, _srcs, count) {
        for (let i = 0; i < count; i++) {
          setPageContent(offload.mem, dsts[i]!, 9999);
          folioSetContentCopied(offload.mem, dsts[i]!);
        }
        return 0;
      },
    };
    expect(migrateWith('batch-copy', liar).contents).toEqual(Array(N).fill(9999));
  });

  it('without a provider, or in v6.11 with one registered, nothing is pre-copied', () => {
    const dma = new DmaCopyMigrator({ minPages: 1 });
    const r = migrateWith('v6.11', dma);
    expect(r.contents).toEqual(EXPECTED);
    expect(dma.foliosMigrated).toBe(0);
    const none = migrateWith('batch-copy', null);
    expect(none.contents).toEqual(EXPECTED);
  });

  it('the reason mask: MR_LONGTERM_PIN is not offloaded by default; a mask that has it is', () => {
    expect(MIGRATE_OFFLOAD_REASONS_ALLOWED & (1 << MR_LONGTERM_PIN)).toBe(0);
    const dma = new DmaCopyMigrator({ minPages: 1 });
    const r = migrateWith('batch-copy', dma, { reason: MR_LONGTERM_PIN });
    expect(r.contents).toEqual(EXPECTED);
    expect(dma.foliosMigrated).toBe(0);
    const dma2 = new DmaCopyMigrator({ minPages: 1 });
    migrateWith('batch-copy', dma2, {
      reason: MR_LONGTERM_PIN,
      reasonMask: 1 << MR_LONGTERM_PIN,
    });
    expect(dma2.foliosMigrated).toBe(N);
  });

  it('a provider declines a batch below its threshold (-EOPNOTSUPP) and the move step copies every folio', () => {
    const dma = new DmaCopyMigrator({ minPages: N + 1 });
    const r = migrateWith('batch-copy', dma);
    expect(r.succeeded).toBe(N);
    expect(r.contents).toEqual(EXPECTED);
    expect(dma.batchesDeclined).toBe(1);
    expect(dma.foliosMigrated).toBe(0);
  });

  it('a partly failed batch falls back per folio: the failed folios are copied on the CPU', () => {
    const dma = new DmaCopyMigrator({ minPages: 1 });
    const r = migrateWith('batch-copy', dma, {
      faults: { 'migrate.copy_offload': { calls: [2, 7] } },
    });
    expect(r.succeeded).toBe(N);
    expect(r.contents).toEqual(EXPECTED);
    expect(dma.foliosFailures).toBe(2);
    expect(dma.foliosMigrated).toBe(N - 2);
    expect(r.markedLeft).toBe(0);
  });

  it('a folio with a reference beyond the expected ones is not handed to the provider', () => {
    const dma = new DmaCopyMigrator({ minPages: 1 });
    const r = migrateWith('batch-copy', dma, { extraRef: 3 });
    // The extra reference makes folio 3 fail its freeze in every pass; the others move.
    expect(r.succeeded).toBe(N - 1);
    expect(r.nids[3]).toBe(0);
    expect(r.contents).toEqual(EXPECTED);
    expect(dma.foliosMigrated).toBe(N - 1);
  });
});

describe('copy provider registration (RFC v6 3/5)', () => {
  it('one provider at a time: a second register is -EBUSY, unregistering another is -EINVAL', () => {
    const m = buildMachine({ variant: 'batch-copy' });
    const a = new DmaCopyMigrator();
    const b = new ThreadCopyMigrator();
    const off = m.core.copyOffload;
    expect(off.register(a)).toBe(0);
    expect(off.register(b)).toBe(-EBUSY);
    expect(off.active).toBe(a);
    let rcB = 0;
    let rcA = 1;
    spawn(m, 'rmmod', 0, function* (): KernelGen {
      rcB = yield* off.unregister(b);
      rcA = yield* off.unregister(a);
    });
    runAll(m);
    expect(rcB).toBe(-EINVAL);
    expect(rcA).toBe(0);
    expect(off.active).toBeNull();
    expect(() => off.register(a, 1 << 20)).toThrow(/reason mask/);
    expect(() => new DmaCopyMigrator({ channels: 0 })).toThrow(/channels/);
  });

  /**
   * A migrator in a DMA copy (inside the SRCU read side) while another task unregisters
   * the provider and releases its channels (module exit).
   */
  function unregisterDuringCopy(synchronize: boolean) {
    const m = buildMachine({ variant: 'batch-copy', strategy: 'lowest-clock' });
    const dma = new DmaCopyMigrator({ minPages: 1 });
    const off = m.core.copyOffload;
    off.unregisterSynchronizes = synchronize;
    off.register(dma);
    const mm = m.vm.createProcess('p');
    const addr = mapAnon(m, mm, N);
    const log: string[] = [];
    spawn(m, 'migrate', 0, function* (): KernelGen {
      yield* writePages(m, mm, addr, N, (i) => 500 + i);
      const list = newList(m);
      yield* isolateFolios(m, foliosOf(m, mm, addr, N), list);
      yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
      log.push('migrated');
    });
    spawn(m, 'rmmod', 1, function* (): KernelGen {
      while (dma.inFlight === 0 && !log.includes('migrated')) {
        m.rt.charge(100); // poll until the copy is in flight
        yield;
      }
      yield* off.unregister(dma);
      log.push(`unregistered with ${dma.inFlight} in flight`);
      dma.release();
      log.push('released');
    });
    let error: unknown = null;
    let result: ReturnType<typeof m.rt.run> | null = null;
    try {
      result = m.rt.run();
    } catch (e) {
      error = e;
    }
    return { result, error, log, m };
  }

  it('unregister waits in synchronize_srcu for the copy in flight; the channels go after it', () => {
    const { result, error, log, m } = unregisterDuringCopy(true);
    expect(error).toBeNull();
    expect(result?.status).toBe('completed');
    expect(log).toContain('unregistered with 0 in flight');
    expect(log.indexOf('released')).toBeGreaterThan(-1);
    expectQuiescent(m);
  });

  it('an unregister that does not synchronize_srcu frees the channels under the copy (the bug SRCU prevents)', () => {
    const { error, log } = unregisterDuringCopy(false);
    expect(log).toContain('unregistered with 1 in flight');
    expect(String(error)).toMatch(/dcbm module exit: .*use after free/);
  });
});

describe('FOLIO_CONTENT_COPIED is good for one move attempt (RFC v6 2/5: "consumed on first read")', () => {
  it('a folio whose first move attempt fails with -EAGAIN is copied on the CPU by the retry', () => {
    const spy = newSpy();
    let moved1: Completion | null = null;
    let src0 = -1;
    const m = buildMachine({
      variant: 'batch-copy',
      wrapRmap: (vm) => {
        const inner = spyingRmap(vm, spy);
        return {
          ...inner,
          removeMigrationPtes(src: number, dst: number, locked: boolean) {
            // Folio 1 has moved: folio 0's first attempt is over.
            if (src !== dst && src === src1) moved1?.complete();
            return inner.removeMigrationPtes(src, dst, locked);
          },
        };
      },
    });
    let src1 = -1;
    moved1 = new Completion(m.rt, 'folio 1 moved');
    // Marks every dst without copying (words 9999), and takes a transient reference on
    // folio 0 after the eligibility check, so its first freeze fails.
    const marker: Migrator = {
      name: 'marker',
      *offloadCopy(offload, dsts, srcs, count) {
        for (let i = 0; i < count; i++) {
          setPageContent(offload.mem, dsts[i]!, 9999);
          folioSetContentCopied(offload.mem, dsts[i]!);
        }
        src0 = srcs[0]!;
        src1 = srcs[1]!;
        folioGet(offload.mem, src0);
        return 0;
      },
    };
    m.core.copyOffload.register(marker);
    const mm = m.vm.createProcess('p');
    const addr = mapAnon(m, mm, 4);
    // Spawned first, so that in-order runs it as soon as it can: drops the reference
    // after folio 0's first attempt.
    spawn(m, 'ref-holder', 1, function* (): KernelGen {
      yield* moved1!.wait();
      folioPut(m.mem, src0);
    });
    let contents: number[] = [];
    spawn(m, 'migrate', 0, function* (): KernelGen {
      yield* writePages(m, mm, addr, 4, (i) => 500 + i);
      const list = newList(m);
      yield* isolateFolios(m, foliosOf(m, mm, addr, 4), list);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
      expect(rc).toBe(0);
      contents = foliosOf(m, mm, addr, 4).map((f) => pageContent(m.mem, f));
    });
    runAll(m);
    // Folio 0 was copied afresh by its retry; the others kept the marker's words.
    expect(contents).toEqual([500, 9999, 9999, 9999]);
  });
});

describe('batch-copy is v6.11 plus the pre-copy (docs/model-vs-kernel.md#batch-copy)', () => {
  it('differs from v6.11 in copyStrategy only, so it keeps 6.11 fixes such as numaHintPutsBackList (6e49019db5f7)', () => {
    const differing = VARIANT_SETTING_KEYS.filter(
      (key) => VARIANTS['batch-copy'][key] !== VARIANTS['v6.11'][key],
    );
    expect(differing).toEqual(['copyStrategy']);
    expect(VARIANTS['batch-copy'].numaHintPutsBackList).toBe(true);
    expect(VARIANTS['batch-copy'].copyStrategy).toBe('batch-precopy');
  });
});
