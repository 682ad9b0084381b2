import type { Kernel } from '@mmsim/kernel';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { EINVAL, type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  FOLL_LONGTERM,
  FOLL_WRITE,
  type LongtermPinStats,
  pinUserPages,
  unpinUserPages,
} from './gup-longterm.js';

/**
 * An RDMA memory registration (drivers/infiniband/core/umem.c, Linux 6.3): `ib_umem_get`
 * pins a user buffer for the lifetime of a memory region with FOLL_LONGTERM, so its pages
 * are first moved out of ZONE_MOVABLE and CMA (`check_and_migrate_movable_pages`).
 */

/** `IB_ACCESS_LOCAL_WRITE` (include/rdma/ib_verbs.h, 6.3). */
export const IB_ACCESS_LOCAL_WRITE = 1;
/** `IB_ACCESS_REMOTE_WRITE`. */
export const IB_ACCESS_REMOTE_WRITE = 1 << 1;
/** `IB_ACCESS_REMOTE_READ`. */
export const IB_ACCESS_REMOTE_READ = 1 << 2;
/** `IB_ACCESS_REMOTE_ATOMIC`. */
export const IB_ACCESS_REMOTE_ATOMIC = 1 << 3;
/** `IB_ACCESS_MW_BIND`. */
export const IB_ACCESS_MW_BIND = 1 << 4;

/** `PAGE_SIZE / sizeof(struct page *)`: the pages `ib_umem_get` pins per call. */
const PIN_CHUNK = PAGE_SIZE / 8;

/** `struct ib_umem`: the registered range and its pinned pages (pfns). */
export interface IbUmem {
  readonly mm: MmView;
  readonly address: number;
  readonly length: number;
  readonly writable: boolean;
  /** The pinned pfns, one per page of the range. */
  readonly pages: readonly number[];
}

/**
 * `ib_access_writable(access_flags)` (include/rdma/ib_verbs.h, 6.3): local or
 * remote write, remote atomic or memory-window bind access needs a writable pin.
 */
export function ibAccessWritable(access: number): boolean {
  return (
    (access &
      (IB_ACCESS_LOCAL_WRITE |
        IB_ACCESS_REMOTE_WRITE |
        IB_ACCESS_REMOTE_ATOMIC |
        IB_ACCESS_MW_BIND)) !==
    0
  );
}

/**
 * `ib_umem_get(device, addr, size, access)` (drivers/infiniband/core/umem.c, 6.3): pins
 * the pages of [addr, addr + size) with `pin_user_pages_fast(..., FOLL_LONGTERM [|
 * FOLL_WRITE])`, at most `PAGE_SIZE / sizeof(struct page *)` (512) pages per call, and
 * returns the umem, or -EINVAL for an empty or wrapping range, or the error of a pin (the
 * pages pinned so far are released first). The fast path of `pin_user_pages_fast` refuses
 * a page that is not longterm-pinnable and falls back to the slow `__gup_longterm_locked`,
 * which the model always takes. Not modelled: the RLIMIT_MEMLOCK check on
 * `mm->pinned_vm`, and the scatterlist.
 */
export function* ibUmemGet(
  k: Kernel,
  mm: MmView,
  addr: number,
  size: number,
  access: number,
  stats?: LongtermPinStats,
): KernelGen<IbUmem | number> {
  if (!Number.isInteger(addr) || addr < 0 || !Number.isInteger(size) || size < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `ib_umem_get: addr and size must be non-negative integers, got ${String(addr)}, ${String(size)}`,
    );
  }
  if (!Number.isInteger(access) || access < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `ib_umem_get: access must be IB_ACCESS_* flags, got ${String(access)}`,
    );
  }
  // ib_umem_get: `if (((addr + size) < addr) || PAGE_ALIGN(addr + size) < (addr + size))`
  // and an empty range are -EINVAL.
  if (size === 0 || !Number.isSafeInteger(addr + size + PAGE_SIZE)) return -EINVAL;
  const writable = ibAccessWritable(access);
  const gupFlags = FOLL_LONGTERM | (writable ? FOLL_WRITE : 0);
  const first = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
  const npages = Math.ceil((addr + size) / PAGE_SIZE) - first / PAGE_SIZE;
  const pages: number[] = [];
  const chunk: number[] = [];
  for (let done = 0; done < npages; ) {
    const n = Math.min(PIN_CHUNK, npages - done);
    const ret = yield* pinUserPages(k, mm, first + done * PAGE_SIZE, n, gupFlags, chunk, stats);
    if (ret < 0) {
      yield* unpinUserPages(k, mm, pages);
      return ret;
    }
    for (const pfn of chunk) pages.push(pfn);
    done += ret;
  }
  return { mm, address: addr, length: size, writable, pages };
}

/** `ib_umem_release(umem)` (drivers/infiniband/core/umem.c, 6.3): unpins every page. */
export function* ibUmemRelease(k: Kernel, umem: IbUmem): KernelGen {
  yield* unpinUserPages(k, umem.mm, umem.pages);
}
