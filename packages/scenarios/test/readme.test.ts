import { createKernel, touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { formatDeadlock } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  loopBhDeadlock,
  mappedFolios,
  migrateUnderWrites,
  migrator,
  migratorStats,
  runScenario,
  userTask,
} from '../src/index.js';

describe('the README examples', () => {
  it('usage', () => {
    const kernel = createKernel({ nodes: [{ pages: 1024 }, { pages: 1024 }], variant: 'v6.3' });
    expect(kernel.rt.cpus.length).toBe(4);

    const run = runScenario(loopBhDeadlock(), { variant: 'v6.3-rc1', strategy: 'random', seed: 1 });
    expect(run.result?.status).toBe('deadlock');
    const text = formatDeadlock(run.result!.deadlock!);
    expect(text).toMatch(/^deadlock: a wait-for cycle of 2 task\(s\)/);
    expect(text).toMatch(
      /kworker\/loop0-2 \[cpu 1\] waits in shmem_write_begin for folio 0x\w+ PG_locked, held by kcompactd0-4 \[cpu 0\]/,
    );
    expect(text).toMatch(
      /kcompactd0-4 \[cpu 0\] waits in buffer_migrate_lock_buffers for buffer 0 of folio 0x\w+ BH_Lock, held by kworker\/loop0-2 \[cpu 1\]/,
    );

    const stats = migratorStats();
    const mine = runScenario(
      {
        name: 'my-move-pages',
        title: 'move_pages under a writer',
        description: 'A thread writes 16 pages while move_pages moves them.',
        sources: [],
        config: { nodes: [{ pages: 1024 }, { pages: 1024 }] },
        build(k) {
          const mm = k.createProcess('app');
          const addr = k.vm.mmap(mm, { length: 16 * 4096 });
          return {
            *setup() {
              yield* touchPages(k, mm, addr, 16, (i) => 100 + i);
            },
            actors: [
              userTask(k, { cpu: 1, mm, addr, pages: 16, accesses: 50, pattern: 'hot-set' }),
              migrator(k, {
                cpu: 0,
                mode: MIGRATE_SYNC,
                reason: MR_SYSCALL,
                rounds: 2,
                select: mappedFolios(k, mm, addr, 16),
                stats,
              }),
            ],
          };
        },
      },
      { variant: 'v6.3', strategy: 'random', seed: 7 },
    );
    expect(mine.result?.status).toBe('completed');
    expect(mine.violations).toEqual([]);
    expect(stats.pagesMigrated).toBe(32);
  });

  it('replacing a part', () => {
    const broken = runScenario(migrateUnderWrites(), {
      variant: 'v6.3',
      strategy: 'random',
      seed: 1,
      parts: {
        tlb: (vm) => ({
          tryToUnmapFlush() {},
          tryToUnmapFlushDirty() {},
          flushTlbBatchedPending: (mm) => vm.flushTlbBatchedPending(mm),
        }),
      },
    });
    expect(broken.error?.code ?? broken.violations[0]?.invariant).toBe('USE_AFTER_FREE');
  });
});
