import type { Actor, Kernel } from '@mmsim/kernel';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  FOLL_LONGTERM,
  FOLL_WRITE,
  type LongtermPinStats,
  longtermPinStats,
  pinUserPages,
  unpinUserPages,
} from './gup-longterm.js';
import { IB_ACCESS_LOCAL_WRITE, IB_ACCESS_REMOTE_READ, ibUmemGet } from './ib-umem.js';

/** What a `longtermPin` actor ended with. */
export interface LongtermPinResult {
  /** The return value of the pin: pages pinned, or -errno. null until it returned. */
  rc: number | null;
  /** The pinned pfns (empty after a failed pin or once released). */
  readonly pages: number[];
  /** Whether the pins are still held. */
  held: boolean;
  readonly stats: LongtermPinStats;
}

/** A new `LongtermPinResult`, nothing pinned yet. */
export function longtermPinResult(): LongtermPinResult {
  return { rc: null, pages: [], held: false, stats: longtermPinStats() };
}

/** Options of `longtermPin`. */
export interface LongtermPinOptions {
  /** Default `pinner`. */
  readonly name?: string;
  readonly cpu: number;
  /** The process whose pages are pinned. */
  readonly mm: MmView;
  /** Page-aligned start of the buffer. */
  readonly addr: number;
  /** Pages of the buffer. */
  readonly pages: number;
  /** A writable pin (FOLL_WRITE). Default true. */
  readonly write?: boolean;
  /**
   * How the pin is taken: `'pin_user_pages'` (default, FOLL_LONGTERM) or `'ib_umem_get'`
   * (an RDMA memory registration: the same pin, 512 pages per call).
   */
  readonly via?: 'pin_user_pages' | 'ib_umem_get';
  /**
   * Scheduling points the pins are held before `unpin_user_pages`; default -1: held to
   * the end of the run (the process's pin record keeps them).
   */
  readonly holdSteps?: number;
  /** Filled as the actor runs. */
  readonly result?: LongtermPinResult;
}

/**
 * A driver that pins a user buffer long-term (`pin_user_pages(FOLL_LONGTERM)`, or RDMA's
 * `ib_umem_get`, mm/gup.c and drivers/infiniband/core/umem.c, Linux 6.3): pages in
 * ZONE_MOVABLE or CMA are migrated (MIGRATE_SYNC, MR_LONGTERM_PIN) before the pin stands.
 */
export function longtermPin(k: Kernel, options: LongtermPinOptions): Actor {
  const { mm, addr, pages } = options;
  if (!Number.isInteger(pages) || pages < 1) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `longtermPin: pages must be a positive integer, got ${String(pages)}`,
    );
  }
  if (!Number.isInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `longtermPin: addr must be a page-aligned address, got ${String(addr)}`,
    );
  }
  const holdSteps = options.holdSteps ?? -1;
  if (!Number.isInteger(holdSteps) || holdSteps < -1) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `longtermPin: holdSteps must be -1 (to the end) or a number of steps, got ${String(holdSteps)}`,
    );
  }
  const via = options.via ?? 'pin_user_pages';
  if (via !== 'pin_user_pages' && via !== 'ib_umem_get') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `longtermPin: via must be 'pin_user_pages' or 'ib_umem_get', got ${String(via)}`,
    );
  }
  const write = options.write ?? true;
  const result = options.result ?? longtermPinResult();
  return {
    name: options.name ?? 'pinner',
    cpu: options.cpu,
    models:
      via === 'ib_umem_get'
        ? 'ib_umem_get -> pin_user_pages_fast(FOLL_LONGTERM) -> __gup_longterm_locked -> check_and_migrate_movable_pages (drivers/infiniband/core/umem.c, mm/gup.c, 6.3)'
        : 'pin_user_pages(FOLL_LONGTERM) -> __gup_longterm_locked -> check_and_migrate_movable_pages (mm/gup.c, 6.3)',
    *body(): KernelGen {
      let rc: number;
      if (via === 'ib_umem_get') {
        const access = write ? IB_ACCESS_LOCAL_WRITE : IB_ACCESS_REMOTE_READ;
        const umem = yield* ibUmemGet(k, mm, addr, pages * PAGE_SIZE, access, result.stats);
        if (typeof umem === 'number') rc = umem;
        else {
          rc = umem.pages.length;
          result.pages.push(...umem.pages);
        }
      } else {
        const flags = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
        const got: number[] = [];
        rc = yield* pinUserPages(k, mm, addr, pages, flags, got, result.stats);
        if (rc > 0) result.pages.push(...got);
      }
      result.rc = rc;
      if (rc <= 0) return;
      result.held = true;
      if (holdSteps < 0) return;
      for (let i = 0; i < holdSteps; i++) yield;
      yield* unpinUserPages(k, mm, result.pages);
      result.pages.length = 0;
      result.held = false;
    },
  };
}
