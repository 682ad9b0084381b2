import type { Actor } from '@mmsim/kernel';
import { touchPages } from '@mmsim/kernel';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE, PMD_SIZE } from '@mmsim/rmap';
import { ENOMEM, type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import { createUserland, MPOL_MF_MOVE_ALL, Sys } from '@mmsim/syscalls';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `movePagesLoop`. */
export interface MovePagesLoopParams {
  /** move_pages(2) calls of the migrating thread, each to the other node. Default 4. */
  readonly rounds?: number;
  /** Accesses of each reading and writing thread. Default 16. */
  readonly accesses?: number;
  /** Pages of the private and of the shared mapping. Default 4. */
  readonly pages?: number;
}

/** Pages of the THP the THP thread touches. */
const THP_TOUCHED = 4;

/**
 * `move-pages-loop`: the kernel selftests' migration test (torvalds/linux
 * linux/tools/testing/selftests/mm/migration.c: `private_anon`, `shared_anon`,
 * `private_anon_thp`) in one process: threads
 * keep loading and storing private anonymous pages, MAP_SHARED | MAP_ANONYMOUS pages and a
 * THP (MADV_HUGEPAGE), while another thread of the process calls
 * `move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE_ALL)` in a loop, every page to the
 * other node each round, through the system-call layer (`@mmsim/syscalls`). What must hold
 * in every schedule: no load sees anything but the last value stored (no corrupt read, no
 * lost write), every invariant holds, and the call never fails (a failed call, or a call
 * that reports complete success with a status other than the target node, ends the run),
 * except with ENOMEM when an allocation of a target folio failed during the call (the
 * `migrate.alloc_migration_target` fault site): `do_move_pages_to_node` returns
 * migrate_pages' -ENOMEM and `do_pages_move` returns it (mm/migrate.c, 6.3).
 */
export function movePagesLoop(params: MovePagesLoopParams = {}): Scenario {
  const rounds = params.rounds ?? 4;
  const accesses = params.accesses ?? 16;
  const pages = params.pages ?? 4;
  return {
    name: 'move-pages-loop',
    title: 'Threads read and write while another thread calls move_pages(2) in a loop',
    description:
      'The selftests migration test: threads load and store private anonymous pages, shared ' +
      'anonymous pages and a THP while a thread of the same process moves every page to the ' +
      'other node with move_pages(MPOL_MF_MOVE_ALL), round after round. No corrupt read, no ' +
      'lost write, no invariant violation, and every call succeeds.',
    sources: [
      'torvalds/linux: linux/tools/testing/selftests/mm/migration.c (private_anon, shared_anon, private_anon_thp)',
      'torvalds/linux v6.12 mm/migrate.c (kernel_move_pages, do_pages_move)',
    ],
    config: {
      nodes: [{ pages: 2048 }, { pages: 2048 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      dependencyChecking: true,
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const userland = createUserland(k);
      const proc = userland.createProcess({ name: 'migration' });
      const mm = proc.mm!;
      const priv = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      const shared = k.vm.mmap(mm, {
        length: pages * PAGE_SIZE,
        flags: MAP_SHARED | MAP_ANONYMOUS,
      });
      const thp = k.vm.mmap(mm, { length: PMD_SIZE, hugepage: true });
      const addrs: number[] = [];
      for (let i = 0; i < pages; i++) addrs.push(priv + i * PAGE_SIZE, shared + i * PAGE_SIZE);
      addrs.push(thp);
      const figures = { calls: 0, notMigrated: 0, pagesMoved: 0, enomem: 0 };
      // The allocation fault site of alloc_migration_target: its count of injected failures.
      const allocFault = k.rt.faults.get('migrate.alloc_migration_target');
      const mover: Actor = {
        name: 'move_pages',
        cpu: 0,
        models:
          'a thread looping on move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE_ALL) (kernel_move_pages -> do_pages_move, mm/migrate.c)',
        *body(task: Task): KernelGen {
          const sys = new Sys(userland, proc, task);
          for (let round = 0; round < rounds; round++) {
            const node = (round + 1) % 2;
            const nodes = addrs.map(() => node);
            const status = addrs.map(() => -1);
            const injectedBefore = allocFault?.injected ?? 0;
            const ret = yield* sys.movePages(
              0,
              addrs.length,
              addrs,
              nodes,
              status,
              MPOL_MF_MOVE_ALL,
            );
            figures.calls++;
            // do_move_pages_to_node (mm/migrate.c, 6.3) returns migrate_pages' -ENOMEM, and
            // do_pages_move hands it to the caller: legal when an allocation of a target
            // folio failed during this call, and only then.
            if (ret < 0 && sys.errno === ENOMEM && (allocFault?.injected ?? 0) > injectedBefore) {
              figures.enomem++;
              yield;
              continue;
            }
            if (ret < 0) {
              throw new MmsimError(
                'INVARIANT_VIOLATED',
                `move_pages round ${round} failed with errno ${sys.errno}`,
              );
            }
            figures.notMigrated += ret;
            if (ret === 0) {
              const bad = status.findIndex((s) => s !== node);
              if (bad >= 0) {
                throw new MmsimError(
                  'INVARIANT_VIOLATED',
                  `move_pages round ${round} returned 0 but status[${bad}] is ${status[bad]}, not node ${node}`,
                );
              }
              figures.pagesMoved += addrs.length;
            }
            yield;
          }
        },
      };
      return {
        *setup() {
          yield* touchPages(k, mm, priv, pages, (i) => 10 + i);
          yield* touchPages(k, mm, shared, pages, (i) => 30 + i);
          yield* touchPages(k, mm, thp, THP_TOUCHED, (i) => 50 + i);
        },
        actors: [
          mover,
          userTask(k, { name: 'private-user', cpu: 1, mm, addr: priv, pages, accesses }),
          userTask(k, { name: 'shared-user', cpu: 2, mm, addr: shared, pages, accesses }),
          userTask(k, { name: 'thp-user', cpu: 3, mm, addr: thp, pages: THP_TOUCHED, accesses }),
        ],
        figures: () => ({ ...figures, readsChecked: k.shadow.readsChecked }),
      };
    },
  };
}
