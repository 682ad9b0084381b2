import { createKernel, type Kernel, touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { mappedFolios, migrator, migratorStats } from '@mmsim/scenarios';
import { createUserland, MPOL_MF_MOVE, type Sys } from '@mmsim/syscalls';
import type { BenchResult } from './measure.js';

/** Private anonymous pages moved per round, as the issue asks for. */
const PAGES = 4096;
const ROUNDS = 6;

function machine(): Kernel {
  return createKernel({
    nodes: [{ pages: 2 * PAGES }, { pages: 2 * PAGES }],
    variant: 'v6.3',
    zeroPage: false,
  });
}

/**
 * Wall clock of `ROUNDS` move_pages(2) calls, each moving the 4,096 private anonymous pages
 * of one process to the other node (MPOL_MF_MOVE, pid 0): the system-call layer
 * (`kernel_move_pages` -> `do_pages_move`: a lookup, the checks and an isolation per page,
 * one `migrate_pages(MIGRATE_SYNC, MR_SYSCALL)` for the batch, the status array). Setup
 * (mmap, first touch) is not timed. Returns the pages per second.
 */
function movePagesRun(): number {
  const k = machine();
  const user = createUserland(k);
  const proc = user.createProcess({ name: 'bench' });
  let ns = 0;
  let failed = 0;
  user.spawnThread(proc, 0, function* (sys: Sys): KernelGen {
    const addr = k.vm.mmap(sys.mm, { length: PAGES * PAGE_SIZE });
    yield* touchPages(k, sys.mm, addr, PAGES, (i) => i);
    const pages = Array.from({ length: PAGES }, (_, i) => addr + i * PAGE_SIZE);
    const status = new Array<number>(PAGES).fill(0);
    const start = process.hrtime.bigint();
    for (let round = 0; round < ROUNDS; round++) {
      const nodes = new Array<number>(PAGES).fill((round + 1) % 2);
      const ret = yield* sys.movePages(0, PAGES, pages, nodes, status, MPOL_MF_MOVE);
      if (ret !== 0) failed++;
    }
    ns = Number(process.hrtime.bigint() - start);
  });
  const result = k.run();
  if (result.status !== 'completed' || failed > 0) {
    throw new Error(`move_pages bench ended as ${result.status} with ${failed} failed calls`);
  }
  return (PAGES * ROUNDS * 1e9) / ns;
}

/**
 * The same work done directly by the migrator actor (packages/scenarios/src/actors/
 * migrator.ts, `'syscall'` style): per round, `lru_cache_disable`, the folios of the same
 * 4,096 pages isolated in address order, one `migrate_pages(MIGRATE_SYNC, MR_SYSCALL)` to
 * the other node, no status array. Returns the pages per second.
 */
function migratorRun(): number {
  const k = machine();
  const mm = k.createProcess('bench');
  const addr = k.vm.mmap(mm, { length: PAGES * PAGE_SIZE });
  const stats = migratorStats();
  const actor = migrator(k, {
    cpu: 0,
    mode: MIGRATE_SYNC,
    reason: MR_SYSCALL,
    rounds: ROUNDS,
    stats,
    select: mappedFolios(k, mm, addr, PAGES),
  });
  let ns = 0;
  k.rt.spawn('bench', 0, function* (task): KernelGen {
    yield* touchPages(k, mm, addr, PAGES, (i) => i);
    const start = process.hrtime.bigint();
    yield* actor.body(task) as KernelGen;
    ns = Number(process.hrtime.bigint() - start);
  });
  const result = k.run();
  if (result.status !== 'completed' || stats.pagesMigrated !== PAGES * ROUNDS) {
    throw new Error(
      `migrator bench ended as ${result.status} with ${stats.pagesMigrated} pages migrated`,
    );
  }
  return (PAGES * ROUNDS * 1e9) / ns;
}

/** The best of `runs` alternating runs of each (after one warm-up run of each). */
function measure(runs: number): { movePages: number; migrator: number } {
  movePagesRun();
  migratorRun();
  let movePages = 0;
  let direct = 0;
  for (let i = 0; i < runs; i++) {
    movePages = Math.max(movePages, movePagesRun());
    direct = Math.max(direct, migratorRun());
  }
  return { movePages, migrator: direct };
}

export function syscallBenchmarks(): BenchResult[] {
  const r = measure(5);
  const overhead = (r.migrator / r.movePages - 1) * 100;
  const detail = { pages: PAGES, rounds: ROUNDS, runs: 5 };
  return [
    {
      name: 'syscalls.move_pages_pages_per_s',
      value: r.movePages,
      unit: 'pages/s',
      better: 'higher',
      description: `Wall clock of move_pages(2) (MPOL_MF_MOVE, MIGRATE_SYNC) moving ${PAGES} private anonymous pages to the other node, ${ROUNDS} calls per run, v6.3; best of 5 runs.`,
      detail,
    },
    {
      name: 'syscalls.migrator_pages_per_s',
      value: r.migrator,
      unit: 'pages/s',
      better: 'higher',
      description: `The same ${PAGES} pages moved ${ROUNDS} times by the migrator actor directly (isolate, migrate_pages(MIGRATE_SYNC, MR_SYSCALL), no system-call layer); best of 5 runs.`,
      detail,
    },
    {
      name: 'syscalls.move_pages_overhead_pct',
      value: overhead,
      unit: '%',
      better: 'lower',
      description:
        'How much longer move_pages(2) takes than the migrator for the same pages (the system-call layer: argument arrays, per-page lookup and checks, status); target under 20%.',
      detail,
    },
  ];
}
