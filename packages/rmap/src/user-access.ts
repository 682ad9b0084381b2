import { pageAccessFactor, pageContent, setPageContent } from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import {
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  TASK_SIZE,
  VM_EXEC,
  VM_FAULT_ERROR,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV_ACCESS,
  VM_FAULT_SIGSEGV_NO_VMA,
  VM_READ,
  VM_WRITE,
} from './constants.js';
import type { CpuTlb } from './cpu-tlb.js';
import { handleMmFault, handleMmFaultPlain } from './fault.js';
import type { Mm } from './mm.js';
import { pmdIndexOfVpn, pteIndexOfVpn, vpnOf } from './page-table.js';
import { PTE_DIRTY, PTE_YOUNG, pteHwPresent, ptePfn, pteWrite } from './pte.js';
import type { RmapState } from './rmap-state.js';
import { cpuTlb, TLB_DIRTY, TLB_WRITE, tlbEntry, useMm } from './tlb.js';
import type { Vma } from './vma.js';

/**
 * User-space loads and stores of a task, one content word per page, as the CPU does them:
 * through the CPU's TLB, then a hardware page walk, then a page fault.
 *
 * - A TLB hit reads or writes the cached frame, whatever the page tables say now. A
 *   stale entry (left by a deferred or missing flush) still reaches the old frame.
 * - A write through an entry cached clean makes the CPU set the PTE's dirty bit with a
 *   locked re-walk; if the PTE no longer maps that frame writable, the CPU faults instead
 *   (the x86 guarantee the batched flush relies on: a clean->dirty transition through a
 *   stale entry traps).
 * - A miss walks the page tables (setting the accessed and, on a write, dirty bits, as the
 *   hardware does, without locks) and fills the TLB; no usable entry means a page fault.
 *
 * Costs: `userAccess` times the access factor of the frame's node (`NodeConfig.memory`,
 * 1 for DRAM: a CPU-less CXL-like node is slower to load from and store to), plus
 * `tlbMiss` for a page walk (the page tables are in local DRAM: not scaled).
 *
 * An access runs on the accessing task's mm: when the CPU does not have that mm loaded
 * for a task (another mm is loaded, or it is lazy), the mm becomes the task's and the CPU
 * switches to it (`switch_mm_irqs_off`), joining its `mm_cpumask`; from then on the
 * scheduler's context switches load it whenever the task runs (see `contextSwitchMm`).
 */

/** What `translate` returns when the access needs a page fault. */
const NEEDS_FAULT = -1;

/** A TLB entry that allows a store without a re-walk: writable and already dirty. */
const TLB_WRITE_DIRTY = TLB_WRITE | TLB_DIRTY;

/**
 * The hardware half of an access: the pfn the access reaches without a fault, or -1.
 * Updates the TLB and the accessed / dirty bits of the entry it walks.
 *
 * A TLB hit (a load through any entry, a store through a dirty writable one) is done here;
 * everything else, in the same order as before, in `translateSlow`. The split keeps this
 * part small enough for V8 to inline into the accesses' fast paths, so that a hit makes no
 * call (a user vpn is above 2^30, a heap number whenever it is passed to one).
 */
function translate(ctx: RmapState, mm: Mm, vpn: number, write: boolean): number {
  const cpu = ctx.rt.current.cpu.id;
  if (ctx.loadedMm[cpu] !== mm || ctx.tlbLazy[cpu] !== 0) useMm(ctx, mm, cpu);
  const tlb = cpuTlb(mm, cpu, ctx.mem);
  const e = tlb.get(vpn);
  if (e !== undefined && (!write || (e & TLB_WRITE_DIRTY) === TLB_WRITE_DIRTY)) {
    ctx.tlbStats.tlbHits++;
    ctx.rt.charge(ctx.costs.userAccess * pageAccessFactor(ctx.mem, e >>> 2));
    return e >>> 2;
  }
  return translateSlow(ctx, mm, tlb, vpn, write, e);
}

/**
 * `translate` past its TLB hits: a store through a clean entry (the locked re-walk that
 * sets the dirty bit), a stale or read-only entry dropped, then the page walk.
 */
function translateSlow(
  ctx: RmapState,
  mm: Mm,
  tlb: CpuTlb,
  vpn: number,
  write: boolean,
  e: number | undefined,
): number {
  if (e !== undefined) {
    // a store (a load hits above) through an entry that is not both writable and dirty
    if ((e & TLB_WRITE) !== 0 && setDirtyThroughWalk(mm, vpn, e >>> 2)) {
      tlb.set(vpn, e | TLB_DIRTY);
      ctx.tlbStats.tlbHits++;
      ctx.rt.charge(ctx.costs.userAccess * pageAccessFactor(ctx.mem, e >>> 2) + ctx.costs.tlbMiss);
      return e >>> 2;
    }
    tlb.delete(vpn); // the CPU drops the entry and takes the slow path
  }
  ctx.tlbStats.tlbMisses++;
  ctx.rt.charge(ctx.costs.tlbMiss);
  const idx = pmdIndexOfVpn(vpn);
  // No map lookup while the mm has no PMD-level entry (no THP mapped, no PMD migration
  // entry), and the page table through its remembered last entry (`lookup`).
  const pmdv = mm.pmds.size === 0 ? undefined : mm.pmds.get(idx);
  if (pmdv !== undefined) {
    // a PMD migration entry or a PROT_NONE (NUMA hinting) PMD faults
    if (!pteHwPresent(pmdv) || (write && !pteWrite(pmdv))) return NEEDS_FAULT;
    const updated = (pmdv | PTE_YOUNG | (write ? PTE_DIRTY : 0)) >>> 0;
    if (updated !== pmdv) mm.pmds.set(idx, updated);
    const pfn = ptePfn(pmdv) + pteIndexOfVpn(vpn);
    tlb.set(vpn, tlbEntry(pfn, pteWrite(pmdv), (updated & PTE_DIRTY) !== 0));
    ctx.rt.charge(ctx.costs.userAccess * pageAccessFactor(ctx.mem, pfn));
    return pfn;
  }
  const table = mm.pageTables.lookup(idx);
  if (table === undefined) return NEEDS_FAULT;
  const pte = table.get(vpn);
  if (!pteHwPresent(pte) || (write && !pteWrite(pte))) return NEEDS_FAULT; // PROT_NONE faults
  const updated = (pte | PTE_YOUNG | (write ? PTE_DIRTY : 0)) >>> 0;
  if (updated !== pte) table.set(vpn, updated);
  const pfn = ptePfn(pte);
  tlb.set(vpn, tlbEntry(pfn, pteWrite(pte), (updated & PTE_DIRTY) !== 0));
  ctx.rt.charge(ctx.costs.userAccess * pageAccessFactor(ctx.mem, pfn));
  return pfn;
}

/**
 * The locked re-walk of a write through a clean TLB entry for `pfn`: sets the dirty bit
 * if the entry still maps `pfn` writable; false means the CPU faults.
 */
function setDirtyThroughWalk(mm: Mm, vpn: number, pfn: number): boolean {
  const idx = pmdIndexOfVpn(vpn);
  const pmdv = mm.pmds.get(idx);
  if (pmdv !== undefined) {
    if (!pteWrite(pmdv) || ptePfn(pmdv) + pteIndexOfVpn(vpn) !== pfn) return false;
    mm.pmds.set(idx, (pmdv | PTE_DIRTY | PTE_YOUNG) >>> 0);
    return true;
  }
  const table = mm.pageTables.get(idx);
  if (table === undefined) return false;
  const pte = table.get(vpn);
  if (!pteWrite(pte) || ptePfn(pte) !== pfn) return false;
  table.set(vpn, (pte | PTE_DIRTY | PTE_YOUNG) >>> 0);
  return true;
}

function checkAccess(mm: Mm, addr: number): void {
  if (!mm.alive) {
    throw new MmsimError('INVALID_STATE', `${mm} has exited: its memory cannot be accessed`);
  }
  if (!Number.isInteger(addr) || addr < 0 || addr >= TASK_SIZE) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `address must be an integer in [0, 2^47), got ${String(addr)}`,
    );
  }
}

/**
 * A load that needs no fault: the content word of the page at `addr`, or NaN when the
 * caller must take the slow path (`userRead`). Runs in the current task, on its CPU.
 */
export function userReadFast(ctx: RmapState, mm: Mm, addr: number): number {
  checkAccess(mm, addr);
  const pfn = translate(ctx, mm, vpnOf(addr), false);
  return pfn < 0 ? Number.NaN : pageContent(ctx.mem, pfn);
}

/** A store that needs no fault; false when the caller must take the slow path. */
export function userWriteFast(ctx: RmapState, mm: Mm, addr: number, value: number): boolean {
  checkAccess(mm, addr);
  if (!Number.isFinite(value)) {
    throw new MmsimError('INVALID_ARGUMENT', `a content word must be finite, got ${String(value)}`);
  }
  const pfn = translate(ctx, mm, vpnOf(addr), true);
  if (pfn < 0) return false;
  setPageContent(ctx.mem, pfn, value);
  return true;
}

/**
 * `do_user_addr_fault` (arch/x86/mm/fault.c, 6.3): take `mmap_lock` for read, find the
 * VMA, check the access against its flags, `handle_mm_fault`, drop the lock. Returns
 * VM_FAULT_* bits; VM_FAULT_SIGSEGV when no VMA contains the address or the VMA forbids
 * the access (`bad_area`, `access_error`).
 */
export function* doUserAddrFault(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  flags: number,
): KernelGen<number> {
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('do_user_addr_fault');
  return yield* doUserAddrFaultLocked(ctx, mm, addr, flags);
}

/**
 * The checks of `do_user_addr_fault` (arch/x86/mm/fault.c, 6.3) between taking `mmap_lock`
 * and `handle_mm_fault`: a dead mm, no VMA (`bad_area`), an access the VMA does not allow
 * (`access_error`). Returns the VMA, or the VM_FAULT_* bits of the failure.
 */
function faultVma(mm: Mm, addr: number, flags: number): Vma | number {
  if (!mm.alive) return VM_FAULT_SIGBUS;
  const vma = mm.vmaLookup(addr);
  if (vma === null) return VM_FAULT_SIGSEGV_NO_VMA;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  if (write ? (vma.flags & VM_WRITE) === 0 : (vma.flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0) {
    return VM_FAULT_SIGSEGV_ACCESS;
  }
  return vma;
}

/** `do_user_addr_fault` with `mmap_lock` taken for read: the rest, then the unlock. */
function* doUserAddrFaultLocked(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  flags: number,
): KernelGen<number> {
  const sem = mm.mmapLock;
  try {
    const vma = faultVma(mm, addr, flags);
    if (typeof vma === 'number') return vma;
    return yield* handleMmFault(ctx, vma, addr, flags | FAULT_FLAG_USER);
  } finally {
    sem.upRead();
  }
}

/**
 * @internal The switch of the plain fault path (`userFault`): false makes every fault of
 * a user access run `doUserAddrFault` as a generator, for the tests that compare the two.
 */
export const userFaultPlainPath = { enabled: true };

/**
 * `do_user_addr_fault` as plain calls where it can be: `mmap_lock` taken with a trylock,
 * the VMA and access checks, and `handle_mm_fault` through `handleMmFaultPlain` (the first
 * touch of a private anonymous page needs no generator). Returns the VM_FAULT_* bits, or
 * a generator that finishes the fault (and drops `mmap_lock`) for the caller to run with
 * `yield*`: the same steps, charges and results as `doUserAddrFault`.
 */
export function userFault(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  flags: number,
): number | KernelGen<number> {
  if (!userFaultPlainPath.enabled) return doUserAddrFault(ctx, mm, addr, flags);
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) return doUserAddrFaultWait(ctx, mm, addr, flags);
  let rest: KernelGen<number> | null = null;
  try {
    const vma = faultVma(mm, addr, flags);
    if (typeof vma === 'number') return vma;
    const ret = handleMmFaultPlain(ctx, vma, addr, flags | FAULT_FLAG_USER);
    if (typeof ret === 'number') return ret;
    rest = ret;
  } finally {
    if (rest === null) sem.upRead();
  }
  return unlockAfter(sem, rest);
}

/** `doUserAddrFault` after a failed trylock of `mmap_lock`: the sleeping `down_read`. */
function* doUserAddrFaultWait(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  flags: number,
): KernelGen<number> {
  yield* mm.mmapLock.downRead('do_user_addr_fault');
  return yield* doUserAddrFaultLocked(ctx, mm, addr, flags);
}

/** Runs the rest of a fault begun with `mmap_lock` held for read, then drops the lock. */
function* unlockAfter(sem: Mm['mmapLock'], rest: KernelGen<number>): KernelGen<number> {
  try {
    return yield* rest;
  } finally {
    sem.upRead();
  }
}

/** The error a fatal fault of a user access becomes (the task would get a signal). */
export function faultError(mm: Mm, addr: number, write: boolean, ret: number): MmsimError {
  const at = `0x${addr.toString(16)} of ${mm}`;
  if (ret === VM_FAULT_SIGSEGV_NO_VMA) {
    return new MmsimError(
      'INVALID_ARGUMENT',
      `${write ? 'write to' : 'read of'} ${at}: the address is outside every VMA (SIGSEGV); mmap it first`,
    );
  }
  if (ret === VM_FAULT_SIGSEGV_ACCESS) {
    return new MmsimError(
      'INVALID_ARGUMENT',
      `${write ? 'write to' : 'read of'} ${at}: the VMA does not allow it (SIGSEGV)`,
    );
  }
  if ((ret & VM_FAULT_OOM) !== 0) {
    return new MmsimError(
      'INVALID_CONFIG',
      `out of memory handling a fault at ${at}: give the machine more memory`,
    );
  }
  return new MmsimError(
    'INVALID_STATE',
    `fault at ${at} failed with VM_FAULT 0x${ret.toString(16)}`,
  );
}

/** Faults that end an access; the SIGSEGV variants above included. */
function fatal(ret: number): boolean {
  return (ret & VM_FAULT_ERROR) !== 0;
}

const MAX_RETRIES = 10_000;

/**
 * A user load: TLB, page walk, then `do_user_addr_fault` and a retry as often as needed
 * (a fault that waited on a migration entry returns and the access is retried). Returns
 * the content word. An access outside every VMA or against the VMA's protection throws
 * INVALID_ARGUMENT (the process would get SIGSEGV); nothing is changed.
 */
export function* userRead(ctx: RmapState, mm: Mm, addr: number): KernelGen<number> {
  const got = userReadPlain(ctx, mm, addr);
  return typeof got === 'number' ? got : yield* got;
}

/** A user store of a content word; see `userRead`. */
export function* userWrite(ctx: RmapState, mm: Mm, addr: number, value: number): KernelGen {
  const rest = userWritePlain(ctx, mm, addr, value);
  if (rest !== null) yield* rest;
}

/**
 * The rest of `userRead` after a `userReadFast` that returned NaN (the same steps,
 * charges and result as `userRead` from its first fault on): a task whose access hits
 * the TLB or the page tables then creates no generator. Not `userRead` itself: the
 * failed attempt has already walked the page tables and charged the walk.
 */
export function* userReadFaulted(ctx: RmapState, mm: Mm, addr: number): KernelGen<number> {
  const got = userReadFaultedPlain(ctx, mm, addr);
  return typeof got === 'number' ? got : yield* got;
}

/** The rest of `userWrite` after a `userWriteFast` that returned false; see `userReadFaulted`. */
export function* userWriteFaulted(ctx: RmapState, mm: Mm, addr: number, value: number): KernelGen {
  const rest = userWriteFaultedPlain(ctx, mm, addr, value);
  if (rest !== null) yield* rest;
}

/**
 * `userRead` as plain calls for as long as no fault has to wait: the content word when
 * the load completed (TLB, page walk, or faults that all finished as plain calls: a first
 * touch, see `userFault`), else the generator that finishes it from the fault that may
 * wait (run it at once with `yield*`, in the same step). The same steps, charges and
 * result as `userRead`.
 */
export function userReadPlain(ctx: RmapState, mm: Mm, addr: number): number | KernelGen<number> {
  const value = userReadFast(ctx, mm, addr);
  return Number.isNaN(value) ? userReadFaultedPlain(ctx, mm, addr) : value;
}

/**
 * `userWrite` as plain calls for as long as no fault has to wait: null when the store
 * is done, else the generator that finishes it (see `userReadPlain`).
 */
export function userWritePlain(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  value: number,
): KernelGen | null {
  return userWriteFast(ctx, mm, addr, value) ? null : userWriteFaultedPlain(ctx, mm, addr, value);
}

/** `userReadFaulted` as plain calls for as long as no fault has to wait; see `userReadPlain`. */
export function userReadFaultedPlain(
  ctx: RmapState,
  mm: Mm,
  addr: number,
): number | KernelGen<number> {
  for (let tries = 0; ; tries++) {
    const fault = userFault(ctx, mm, addr, 0);
    if (typeof fault !== 'number') return userReadFaultedFrom(ctx, mm, addr, fault, tries);
    if (fatal(fault)) throw faultError(mm, addr, false, fault);
    if (tries >= MAX_RETRIES) throw livelock(mm, addr);
    const value = userReadFast(ctx, mm, addr);
    if (!Number.isNaN(value)) return value;
  }
}

/** `userWriteFaulted` as plain calls for as long as no fault has to wait; see `userWritePlain`. */
export function userWriteFaultedPlain(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  value: number,
): KernelGen | null {
  for (let tries = 0; ; tries++) {
    const fault = userFault(ctx, mm, addr, FAULT_FLAG_WRITE);
    if (typeof fault !== 'number') return userWriteFaultedFrom(ctx, mm, addr, value, fault, tries);
    if (fatal(fault)) throw faultError(mm, addr, true, fault);
    if (tries >= MAX_RETRIES) throw livelock(mm, addr);
    if (userWriteFast(ctx, mm, addr, value)) return null;
  }
}

/**
 * The loop of `userReadFaulted` from its try number `tries`, whose fault went on as the
 * generator `fault` (not started yet).
 */
function* userReadFaultedFrom(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  fault: KernelGen<number>,
  tries: number,
): KernelGen<number> {
  let ret = yield* fault;
  for (;;) {
    if (fatal(ret)) throw faultError(mm, addr, false, ret);
    if (tries >= MAX_RETRIES) throw livelock(mm, addr);
    const value = userReadFast(ctx, mm, addr);
    if (!Number.isNaN(value)) return value;
    tries++;
    const next = userFault(ctx, mm, addr, 0);
    ret = typeof next === 'number' ? next : yield* next;
  }
}

/** The loop of `userWriteFaulted` from its try number `tries`; see `userReadFaultedFrom`. */
function* userWriteFaultedFrom(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  value: number,
  fault: KernelGen<number>,
  tries: number,
): KernelGen {
  let ret = yield* fault;
  for (;;) {
    if (fatal(ret)) throw faultError(mm, addr, true, ret);
    if (tries >= MAX_RETRIES) throw livelock(mm, addr);
    if (userWriteFast(ctx, mm, addr, value)) return;
    tries++;
    const next = userFault(ctx, mm, addr, FAULT_FLAG_WRITE);
    ret = typeof next === 'number' ? next : yield* next;
  }
}

function livelock(mm: Mm, addr: number): MmsimError {
  return new MmsimError(
    'INVARIANT_VIOLATED',
    `an access to 0x${addr.toString(16)} of ${mm} faulted ${MAX_RETRIES} times without progress`,
  );
}
