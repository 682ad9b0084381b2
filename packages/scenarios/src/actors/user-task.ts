import type { Actor, Kernel } from '@mmsim/kernel';
import type { MmView } from '@mmsim/rmap';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import { type AccessPattern, pagePicker } from './access-pattern.js';

/** Options of `userTask`. */
export interface UserTaskOptions {
  /** The task's comm; default `user`. */
  readonly name?: string;
  readonly cpu: number;
  /** The process whose memory it touches (a thread of it). */
  readonly mm: MmView;
  /** Start of the area (page aligned) and its size in pages. */
  readonly addr: number;
  readonly pages: number;
  /** Default `'random'`. */
  readonly pattern?: AccessPattern;
  /** Accesses to make. */
  readonly accesses: number;
  /** Probability that an access is a store (the rest are loads). Default 0.5. */
  readonly writeRatio?: number;
  /**
   * Virtual ns of work the program does after each access (charged to its CPU): the
   * computation between memory accesses. Default 0.
   */
  readonly computeNs?: number;
  /** Stop early once this returns true (checked before each access). */
  readonly until?: () => boolean;
  /** Counters to fill in. */
  readonly stats?: UserTaskStats;
}

/** What a user task did. */
export interface UserTaskStats {
  loads: number;
  stores: number;
  /** Loads that did not see the last value written (also reported by `no-lost-write`). */
  mismatches: number;
}

/** A new, zeroed `UserTaskStats`. */
export function userTaskStats(): UserTaskStats {
  return { loads: 0, stores: 0, mismatches: 0 };
}

/**
 * A user task: one thread of a process touching its memory with loads and stores, in a
 * pattern (`sequential`, `random`, `hot-set`), with the page of each access and whether it
 * is a store drawn from the run's workload random stream. Each access is a user-mode load
 * or store (`VirtualMemory.userRead` / `userWrite`): through this CPU's TLB, a hardware
 * page walk, and on a miss the page-fault path (`do_user_addr_fault` -> `handle_mm_fault`
 * -> `do_anonymous_page` / `do_fault` / `do_wp_page`, or `migration_entry_wait` on a page
 * under migration; arch/x86/mm/fault.c and mm/memory.c, 6.3). After each access the task
 * yields: another CPU may run there.
 *
 * Stores write a value unique to this task and access, and record it in the kernel's
 * shadow memory in the step of the store; loads check what they see against it.
 */
export function userTask(k: Kernel, options: UserTaskOptions): Actor {
  const { mm, addr, pages, accesses } = options;
  const writeRatio = options.writeRatio ?? 0.5;
  if (!Number.isInteger(accesses) || accesses < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `accesses must be a non-negative integer, got ${String(accesses)}`,
    );
  }
  if (!(writeRatio >= 0 && writeRatio <= 1)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `writeRatio must be in [0, 1], got ${String(writeRatio)}`,
    );
  }
  const name = options.name ?? 'user';
  const computeNs = options.computeNs ?? 0;
  if (!(computeNs >= 0 && Number.isFinite(computeNs))) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `computeNs must be a finite number >= 0, got ${String(computeNs)}`,
    );
  }
  return {
    name,
    cpu: options.cpu,
    models:
      'a user thread: loads and stores through the TLB and page walk, faulting into do_user_addr_fault / handle_mm_fault (mm/memory.c, 6.3)',
    *body(task: Task): KernelGen {
      const rng = k.rt.random.workload;
      const pick = pagePicker(options.pattern ?? 'random', pages, rng);
      const who = String(task);
      const stats = options.stats;
      for (let n = 0; n < accesses; n++) {
        if (options.until?.() === true) break;
        const at = addr + pick(n) * PAGE_SIZE;
        const where = k.shadow.userLocation(mm, at);
        if (rng.chance(writeRatio)) {
          const value = task.id * 1_000_000 + n + 1;
          // As userWrite, with no generator unless the store faults.
          if (!k.vm.userWriteFast(mm, at, value)) yield* k.vm.userWriteFaulted(mm, at, value);
          k.shadow.wrote(where, value, who); // same step as the store
          if (stats !== undefined) stats.stores++;
        } else {
          // As userRead, with no generator unless the load faults.
          let value = k.vm.userReadFast(mm, at);
          if (Number.isNaN(value)) value = yield* k.vm.userReadFaulted(mm, at);
          const ok = k.shadow.read(where, value, who); // same step as the load
          if (stats !== undefined) {
            stats.loads++;
            if (!ok) stats.mismatches++;
          }
        }
        if (computeNs > 0) k.rt.charge(computeNs);
        yield; // the program runs on; another CPU may interleave here
      }
    },
  };
}
