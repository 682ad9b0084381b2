import { folioMapping, nodeSpannedPages, nodeStartPfn, pfnFolio } from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import { isAddressSpace } from '@mmsim/rmap';
import { type KernelGen, MmsimError } from '@mmsim/runtime';

/** Options of `pfnWalker`. */
export interface PfnWalkerOptions {
  /** Default `pfn-walker`. */
  readonly name?: string;
  readonly cpu: number;
  /** The node whose pfns it walks, from its first pfn up. */
  readonly nid: number;
  /** Passes over the node. */
  readonly rounds: number;
  /** Counters to fill in. */
  readonly stats?: PfnWalkerStats;
}

/** What a pfn walker saw. */
export interface PfnWalkerStats {
  /** Pfns looked at. */
  pfns: number;
  /** Folios whose `folio_mapping()` was an address space, dereferenced as one. */
  fileMappings: number;
}

/**
 * A pfn walker: something that looks at arbitrary pfns without taking a reference or a
 * lock, as `__dump_page()` (mm/debug.c) does for the pages memory offlining cannot isolate
 * (`set_migratetype_isolate` -> `dump_page`, mm/page_isolation.c), and as /proc/kpageflags
 * and the page_owner dump do. For each pfn of the node it takes `page_folio()` and
 * `folio_mapping()`; a mapping that is not tagged anonymous is an `address_space` to it,
 * which `__dump_page` -> `dump_mapping()` follows to `mapping->host` and the dentry's
 * name (6.3-6.7). It yields between pfns.
 *
 * What it reads is racy by design, and the kernel accepts that for every legal state: a
 * free frame, a folio being freed or split, a page-cache folio being truncated. What it
 * cannot survive is a `->mapping` holding something that is not an `address_space` while
 * untagged: the batch migration of 6.3 kept the anon_vma of an anonymous src untagged in
 * `dst->mapping` between `migrate_folio_unmap` and `migrate_folio_move` (Baolin Wang's crash,
 * d1adb25df711). Seeing such a mapping throws INVARIANT_VIOLATED, the oops in
 * `dump_mapping` of that report.
 */
export function pfnWalker(k: Kernel, options: PfnWalkerOptions): Actor {
  const { nid, rounds } = options;
  if (!Number.isInteger(nid) || nid < 0 || nid >= k.nrNodes) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `actor ${options.name ?? 'pfn-walker'} walks node ${String(nid)}, but the machine has nodes 0..${k.nrNodes - 1}`,
    );
  }
  if (!Number.isInteger(rounds) || rounds < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `rounds must be a non-negative integer, got ${String(rounds)}`,
    );
  }
  const stats = options.stats;
  return {
    name: options.name ?? 'pfn-walker',
    cpu: options.cpu,
    models:
      'a pfn walker without references: __dump_page -> folio_mapping -> dump_mapping (mm/debug.c, 6.3-6.7), as memory offlining calls it',
    body: (): KernelGen => pfnWalkerBody(k, nid, rounds, stats),
  };
}

/** `pfnWalker`'s task body (a module-level generator: see `initTask` in scenario.ts). */
function* pfnWalkerBody(
  k: Kernel,
  nid: number,
  rounds: number,
  stats: PfnWalkerStats | undefined,
): KernelGen {
  const mem = k.mem;
  const start = nodeStartPfn(mem, nid);
  const end = start + nodeSpannedPages(mem, nid);
  for (let round = 0; round < rounds; round++) {
    for (let pfn = start; pfn < end; pfn++) {
      yield;
      if (stats !== undefined) stats.pfns++;
      const folio = pfnFolio(mem, pfn);
      if (folio < 0) continue; // free
      const mapping = folioMapping(mem, folio);
      if (mapping === null) continue; // anonymous, KSM, movable, slab: not followed
      if (!isAddressSpace(mapping)) {
        throw new MmsimError(
          'INVARIANT_VIOLATED',
          `Oops in dump_mapping: folio_mapping() of pfn ${pfn} (folio ${folio}) is untagged but not an address_space (an anon_vma kept in dst->mapping during migration), dereferenced as one`,
        );
      }
      if (stats !== undefined) stats.fileMappings++;
    }
  }
}
