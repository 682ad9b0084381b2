import type { Folio, PhysicalMemory } from '@mmsim/folio';
import {
  type CostModel,
  EBUSY,
  EINVAL,
  type FaultPoint,
  type KernelGen,
  MmsimError,
  type Runtime,
  Srcu,
} from '@mmsim/runtime';
import {
  type MigrateReason,
  MR_COMPACTION,
  MR_DEMOTION,
  MR_NUMA_MISPLACED,
  MR_SYSCALL,
  MR_TYPES,
} from './reasons.js';

/**
 * Copy offload for migration: the registration side of Shivank Garg's "Accelerate page
 * migration with batch copying and hardware offload" (RFC v6, 2026-06-30, patch 3/5 "mm/
 * migrate: add copy offload registration infrastructure", mm/migrate_copy_offload.c). The
 * variants with `copyStrategy: 'batch-precopy'` read it from `migrate_pages_batch()`
 * (`migrate-folios-precopy.ts`); every other variant ignores it.
 *
 * - One provider (`struct migrator`) at a time: a second `migrate_offload_register` gets
 *   -EBUSY, and only the active provider may unregister itself (-EINVAL otherwise).
 * - `active_reason_mask`: the migrate reasons whose batches may be pre-copied, given at
 *   registration and changed with `migrate_offload_set_reason_mask`.
 * - The call into the provider runs inside an SRCU read-side critical section;
 *   `migrate_offload_unregister` clears the provider and then `synchronize_srcu()`s, so
 *   that no copy is still running in the provider when it returns (and the provider's
 *   module reference, its DMA channels, can go).
 */

/** A provider's answer when it declines a batch (too small to amortise its set-up). */
export { EOPNOTSUPP } from '@mmsim/runtime';

/**
 * `MIGRATE_OFFLOAD_REASONS_ALLOWED`: the reasons a provider may take by default. The v5
 * posting (20260428 "[PATCH 5/7]", `migrate_offload_do_batch()`) listed MR_COMPACTION,
 * MR_SYSCALL, MR_DEMOTION and MR_NUMA_MISPLACED; v6 turned the list into this mask, which
 * the model takes to hold the same four (the v6 header was not readable here; see
 * docs/model-vs-kernel.md#batch-copy).
 */
export const MIGRATE_OFFLOAD_REASONS_ALLOWED =
  (1 << MR_COMPACTION) | (1 << MR_SYSCALL) | (1 << MR_DEMOTION) | (1 << MR_NUMA_MISPLACED);

/**
 * `struct migrator`: a copy provider. `offloadCopy` is `offload_copy(dst_list, src_list,
 * folio_cnt)`: copy the content of each `srcs[i]` to `dsts[i]` (`count` pairs, `nrPages`
 * base pages in all) and mark every dst it copied with `folioSetContentCopied`; a dst left
 * unmarked is copied on the CPU by the move phase. Return 0, or -EOPNOTSUPP to decline the
 * whole batch (nothing marked), or another negative errno (the marks set stand).
 */
export interface Migrator {
  readonly name: string;
  offloadCopy(
    offload: CopyOffload,
    dsts: readonly Folio[],
    srcs: readonly Folio[],
    count: number,
    nrPages: number,
  ): KernelGen<number>;
}

/**
 * `FOLIO_CONTENT_COPIED` (RFC v6; `FOLIO_ALREADY_COPIED` before, renamed at David
 * Hildenbrand's request): BIT(2) of dst's `migrate_info`, next to FOLIO_WAS_MAPPED and
 * FOLIO_WAS_MLOCKED, set by a provider right after it copied that folio. The move phase
 * reads and clears it on its first attempt at the folio (`__migrate_folio`): set, the copy
 * is skipped; a -EAGAIN retry finds it clear and copies afresh. The model keeps the bit in
 * a byte per pfn, allocated once per memory (no allocation per folio).
 */
const contentCopied = new WeakMap<PhysicalMemory, Uint8Array>();
function contentCopiedOf(mem: PhysicalMemory): Uint8Array {
  let bits = contentCopied.get(mem);
  if (bits === undefined) {
    bits = new Uint8Array(mem.maxPfn);
    contentCopied.set(mem, bits);
  }
  return bits;
}

/** Marks dst FOLIO_CONTENT_COPIED: its content is src's, copied by a provider. */
export function folioSetContentCopied(mem: PhysicalMemory, dst: Folio): void {
  contentCopiedOf(mem)[dst] = 1;
}

/** Whether dst is marked FOLIO_CONTENT_COPIED. */
export function folioTestContentCopied(mem: PhysicalMemory, dst: Folio): boolean {
  return contentCopied.get(mem)?.[dst] === 1;
}

/** Reads and clears dst's FOLIO_CONTENT_COPIED (the move phase consumes it). */
export function folioTestClearContentCopied(mem: PhysicalMemory, dst: Folio): boolean {
  const bits = contentCopied.get(mem);
  if (bits === undefined || bits[dst] !== 1) return false;
  bits[dst] = 0;
  return true;
}

/** The copy-offload state of one machine (`mm/migrate_copy_offload.c`'s globals). */
export class CopyOffload {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly costs: CostModel;
  /** `migrate_offload_srcu`: guards the call into the provider. */
  readonly srcu: Srcu;
  /**
   * Fault site `migrate.copy_offload`: a provider's copy of one folio fails (its dst stays
   * unmarked and the move phase copies it on the CPU). The providers of
   * `copy-providers.ts` fire it once per folio.
   */
  readonly copyFault: FaultPoint;
  /**
   * Whether the pre-copy phase passes only folios whose reference count is the expected
   * one (RFC v6 patch 2/5: "refcount equals expected"). Always true in the model's
   * variants; a test turns it off to show what the check prevents (a stale copy published
   * after a pinned writer's DMA). Not a variant setting: no kernel posting leaves it out.
   */
  precopyChecksRefs = true;
  /**
   * Whether `unregister` waits for in-flight copies (`synchronize_srcu`). Always true in
   * the model's variants; a test turns it off to show the use-after-free it prevents.
   */
  unregisterSynchronizes = true;
  #active: Migrator | null = null;
  #reasonMask = 0;
  /** Batches handed to a provider, and how many it declined. */
  batches = 0;
  declined = 0;

  constructor(rt: Runtime, mem: PhysicalMemory) {
    this.rt = rt;
    this.mem = mem;
    this.costs = rt.costs;
    this.srcu = new Srcu(rt, 'migrate_offload_srcu');
    this.copyFault = rt.faults.register(
      'migrate.copy_offload',
      "a copy provider fails to copy one folio of a batch (it falls back to the move phase's CPU copy)",
    );
  }

  /** The registered provider, or null (`migrate_offload_enabled` off). */
  get active(): Migrator | null {
    return this.#active;
  }

  /** `active_reason_mask`: bit `1 << reason` for each reason the provider takes. */
  get reasonMask(): number {
    return this.#reasonMask;
  }

  /**
   * `migrate_offload_register(m, reason_mask)`: makes `m` the provider. Returns 0, or
   * -EBUSY when another provider is registered. A mask with bits beyond MR_TYPES throws
   * INVALID_ARGUMENT.
   */
  register(m: Migrator, reasonMask: number = MIGRATE_OFFLOAD_REASONS_ALLOWED): number {
    if (typeof m !== 'object' || m === null || typeof m.offloadCopy !== 'function') {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        'migrate_offload_register: a migrator is { name, offloadCopy }',
      );
    }
    checkReasonMask(reasonMask);
    if (this.#active !== null) return -EBUSY;
    this.#active = m;
    this.#reasonMask = reasonMask;
    return 0;
  }

  /**
   * `migrate_offload_unregister(m)`: removes `m` (-EINVAL when it is not the provider),
   * then `synchronize_srcu()`: returns only when every batch copy that had entered the
   * provider is out of it.
   */
  *unregister(m: Migrator): KernelGen<number> {
    if (this.#active !== m) return -EINVAL;
    this.#active = null;
    this.#reasonMask = 0;
    if (this.unregisterSynchronizes) yield* this.srcu.synchronize();
    return 0;
  }

  /** `migrate_offload_set_reason_mask(mask)`. */
  setReasonMask(reasonMask: number): void {
    checkReasonMask(reasonMask);
    this.#reasonMask = reasonMask;
  }

  /** `migrate_should_offload(reason)`: a provider is registered and takes `reason`. */
  shouldOffload(reason: MigrateReason): boolean {
    return this.#active !== null && (this.#reasonMask & (1 << reason)) !== 0;
  }
}

function checkReasonMask(mask: number): void {
  if (!Number.isInteger(mask) || mask < 0 || mask >= 1 << MR_TYPES) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `the reason mask must be an integer in [0, ${(1 << MR_TYPES) - 1}] (bit 1 << MR_*), got ${String(mask)}`,
    );
  }
}
