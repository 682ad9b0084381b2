import { type CostModel, DEFAULT_COSTS } from './costs.js';
import { MmsimError } from './errors.js';

/**
 * The machine a cost profile stands for, as far as the model uses it: NUMA nodes, CPUs,
 * and how a remote TLB flush reaches the other CPUs.
 */
export interface CostProfileMachine {
  /** NUMA nodes of the machine. */
  readonly nodes: number;
  /** CPUs of the machine (hardware threads the kernel schedules on). */
  readonly cpus: number;
  /**
   * How a flush of another CPU's TLB is done. `'ipi'`: x86, the initiator sends an IPI to
   * every other CPU of `mm_cpumask` that is not lazy and waits for each acknowledgement
   * (`native_flush_tlb_multi`, arch/x86/mm/tlb.c); the cost grows with the targets.
   * `'broadcast-tlbi'`: arm64, the initiator issues TLBI ...IS instructions that the
   * interconnect broadcasts to every CPU of the inner-shareable domain and waits with one
   * `dsb(ish)` (`__flush_tlb_page`, arch/arm64/include/asm/tlbflush.h); no IPI, no
   * `mm_cpumask` filtering, a cost that does not grow per target CPU.
   */
  readonly remoteFlush: 'ipi' | 'broadcast-tlbi';
}

/**
 * The configuration of `pmbench-migrate` on which a profile is compared with the batching
 * series' figures (see docs/calibration.md).
 */
export interface CostProfileHeadline {
  /** pmbench threads (one per CPU; CPU 0 runs migratepages). */
  readonly threads: number;
  /** Pages of pmbench's working set that migratepages moves. */
  readonly pages: number;
  /**
   * How long the test runs, in virtual ns (`pmbench-migrate`'s `durationNs`): pmbench runs
   * for a set duration and migratepages moves its pages back and forth until it ends, so
   * the IPIs "during the test" are those of as many migrate_pages(2) calls as the kernel
   * fits in that time.
   */
  readonly durationNs: number;
  /** The series' TLB-flush IPI drop, in percent (`null` when it gave none). */
  readonly ipiDropPercent: number | null;
  /** The series' gain in pages migrated per second, in percent. */
  readonly throughputGainPercent: number;
  /** Where the series' figures come from and what they measured. */
  readonly source: string;
}

/** A named set of costs for one machine. */
export interface CostProfile {
  readonly name: CostProfileName;
  /** One line: the machine. */
  readonly title: string;
  readonly machine: CostProfileMachine;
  /** The full cost model of the profile (defaults for what the profile does not change). */
  readonly costs: CostModel;
  /** Per cost the profile changes: why this value. */
  readonly sources: Readonly<Partial<Record<keyof CostModel, string>>>;
  readonly headline: CostProfileHeadline;
}

/** The names `costProfile` accepts. */
export const COST_PROFILE_NAMES = ['x86-2s', 'arm64-128'] as const;
export type CostProfileName = (typeof COST_PROFILE_NAMES)[number];

const X86_2S: CostProfile = Object.freeze({
  name: 'x86-2s',
  title:
    'A 2-socket Intel Xeon server (the batching series’ x86 machine): IPI-based TLB shootdowns, cross-socket page copies',
  machine: Object.freeze({ nodes: 2, cpus: 64, remoteFlush: 'ipi' as const }),
  costs: Object.freeze({
    ...DEFAULT_COSTS,
    copyPage4k: 700,
    tlbShootdownBase: 1500,
    tlbShootdownPerCpu: 250,
  }),
  sources: Object.freeze({
    copyPage4k:
      'Estimate: migratepages copies every page across the socket link; single-core copy bandwidth to the remote node is lower than the ~8-10 GB/s of a local copy (DEFAULT_COSTS.copyPage4k), taken as ~6 GB/s: 4096 B in ~700 ns.',
    tlbShootdownBase:
      'Estimate within the published range: an x86 shootdown round (IPI send, remote interrupt entry, flush, acknowledgement) takes a few microseconds end to end (Amit, USENIX ATC 2017; Kumar et al., LATR, ASPLOS 2018); 1.5 us is the fixed part here.',
    tlbShootdownPerCpu:
      'Estimate: flush_tlb_multi sends the IPIs back to back and waits for the slowest acknowledgement, so each extra target adds its ICR write and its share of the ack wait, a fraction of a round: 250 ns. Chosen together with headline.threads so that v6.2 -> v6.3 lands on the series’ +291.7% (one fitted parameter: the thread count the changelog does not give).',
  }),
  headline: Object.freeze({
    threads: 8,
    pages: 1024,
    durationNs: 10_000_000,
    ipiDropPercent: 99.1,
    throughputGainPercent: 291.7,
    source:
      '7e12beb8ca2a "migrate_pages: batch flushing TLB" (6.3-rc1) and the v5 cover letter 20230213123444.155149-1-ying.huang@intel.com: pmbench on a 2-socket Intel server while migratepages moves its pages between node 0 and node 1 back and forth; TLB-flush IPIs -99.1% "during the test", pages migrated per second +291.7%. Thread count and working-set size are not given. pmbench runs for a set duration (`pmbench [OPTIONS...] duration`, pmbench(1)), so both kernels are compared over a test of the same length (durationNs): the faster one makes more migrate_pages(2) calls, and batch flushes, in it (1 - 3.917/512 = 99.23% with the series’ own gain; 1 - 1/512 = 99.80% per page).',
  }),
});

const ARM64_128: CostProfile = Object.freeze({
  name: 'arm64-128',
  title:
    'A 128-core ARM64 server with 2 NUMA nodes (the series’ ARM64 test machine): broadcast TLBI, no flush IPIs',
  machine: Object.freeze({ nodes: 2, cpus: 128, remoteFlush: 'broadcast-tlbi' as const }),
  costs: Object.freeze({
    ...DEFAULT_COSTS,
    copyPage4k: 600,
    tlbFlushLocal: 200,
    tlbFlushOnePage: 60,
    tlbShootdownBase: 850,
    tlbShootdownPerCpu: 0,
  }),
  sources: Object.freeze({
    copyPage4k:
      'Estimate: a cross-node copy on a 2-node ARM64 server, between the local rate of DEFAULT_COSTS.copyPage4k and the x86-2s cross-socket rate.',
    tlbShootdownBase:
      'Estimate, fitted: one `tlbi vale1is` broadcast to the inner-shareable domain and the `dsb(ish)` that waits for every CPU to complete it. Barry Song and Yicong Yang measured ptep_clear_flush at 16.99% of a reclaim micro-benchmark on a ~100-core arm64 server (43b3dfdd0455 changelog, 6.5-rc1): a broadcast round costs far more than a local invalidation. 850 ns puts v6.2 -> v6.3 near the series’ "up to 78%".',
    tlbShootdownPerCpu:
      'arm64 sends no IPI per target: TLBI is broadcast by the interconnect, so the cost of a round does not grow with the CPUs that run the mm (0).',
  }),
  headline: Object.freeze({
    threads: 63,
    pages: 1024,
    durationNs: 10_000_000,
    ipiDropPercent: null,
    throughputGainPercent: 78,
    source:
      '7e12beb8ca2a changelog: Xin Hao tested the series on an ARM64 server with 128 cores and 2 NUMA nodes, page migration performance up to +78%. Mainline arm64 had no batched TLB flush before 43b3dfdd0455 "arm64: support batched/deferred tlb shootdown during page reclamation/migration" (6.5-rc1, Tested-by Xin Hao); on a plain 6.3 arm64 kernel should_defer_flush() is false and TTU_BATCH_FLUSH changes nothing. The changelog does not say whether that arm64 series was applied; the profile assumes it was (one TLBI+DSB round per batch).',
  }),
});

const PROFILES: Readonly<Record<CostProfileName, CostProfile>> = Object.freeze({
  'x86-2s': X86_2S,
  'arm64-128': ARM64_128,
});

/** Whether `name` is a cost profile's name. */
export function isCostProfileName(name: string): name is CostProfileName {
  return (COST_PROFILE_NAMES as readonly string[]).includes(name);
}

/** The cost profile called `name`; an unknown name is an INVALID_ARGUMENT error naming the known ones. */
export function costProfile(name: string): CostProfile {
  if (!isCostProfileName(name)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `unknown cost profile "${name}"; known: ${COST_PROFILE_NAMES.join(', ')}`,
    );
  }
  return PROFILES[name];
}
