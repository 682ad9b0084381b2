import {
  CompactControl,
  type CompactionSkip,
  compactNodes,
  compactZone,
  longtermPin,
  longtermPinResult,
  onCompactionSkip,
} from '@mmsim/callers';
import { isMigrateCmaPage, isZoneMovablePage, pfnFolio } from '@mmsim/folio';
import { MIGRATE_SYNC } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import {
  Completion,
  EINTR,
  ENOMEM,
  endInvariant,
  type KernelGen,
  NodeStat,
  type Task,
  VmEvent,
} from '@mmsim/runtime';
import { appMapping, pageWriter, writePagesAndDrain } from '../actors/written-pages.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Invariant: every page of the standing FOLL_LONGTERM pin is outside ZONE_MOVABLE and CMA. */
export const LONGTERM_PIN_PINNABLE = 'longterm-pin-pinnable';
/** Invariant: the compaction after the pin refused every pinned page as `pinned`. */
export const LONGTERM_PIN_REFUSED = 'longterm-pin-refused-by-compaction';

/** Parameters of `longtermPinScenario`. */
export interface LongtermPinParams {
  /** Pages of the buffer the driver pins. Default 8. */
  readonly pages?: number;
  /** Accesses of the writer (three writes in four). Default 24. */
  readonly accesses?: number;
}

/**
 * `longterm-pin`: a process's buffer sits in ZONE_MOVABLE (node 0 has 2048 pages, the top
 * 1024 of them ZONE_MOVABLE, where user memory goes first); a driver pins it with
 * `pin_user_pages(FOLL_LONGTERM | FOLL_WRITE)` (mm/gup.c, 6.3) while a thread of the
 * process keeps writing to it and `compact_memory` runs. `__gup_longterm_locked` pins the
 * buffer, `check_and_migrate_movable_pages` finds the pages unpinnable, unpins them and
 * migrates them to ZONE_NORMAL (MIGRATE_SYNC, MR_LONGTERM_PIN), and the pin is retried.
 * Once it stands, a second compaction of the node refuses every pinned page (`pinned`:
 * more references than mappings).
 *
 * Clean in 6.3: the pin stands on pages outside ZONE_MOVABLE and CMA, mapped where the
 * process sees its buffer, no write is lost, no frame leaked. Figures: the pin's passes and
 * migrated pages, `pgmigrate_success`, the compaction's `pinned` refusals, and
 * `nr_foll_pin_acquired` / `nr_foll_pin_released`.
 */
export function longtermPinScenario(params: LongtermPinParams = {}): Scenario {
  const pages = params.pages ?? 8;
  const accesses = params.accesses ?? 24;
  return {
    name: 'longterm-pin',
    title: 'A FOLL_LONGTERM pin moves its buffer out of ZONE_MOVABLE (MR_LONGTERM_PIN) under load',
    description:
      'A driver pins a buffer of ZONE_MOVABLE pages with pin_user_pages(FOLL_LONGTERM) while ' +
      'a thread writes to it and compact_memory runs: the pages are migrated to ZONE_NORMAL ' +
      '(MIGRATE_SYNC, MR_LONGTERM_PIN) and the pin retried; compaction then refuses the ' +
      'pinned pages. Clean in 6.3: no pinned page in ZONE_MOVABLE or CMA, no lost write.',
    sources: [
      'torvalds/linux v6.3 mm/gup.c (__gup_longterm_locked, check_and_migrate_movable_pages, collect_longterm_unpinnable_pages, migrate_longterm_unpinnable_pages)',
      'torvalds/linux v6.3 include/linux/mm.h (folio_is_longterm_pinnable)',
      'torvalds/linux v6.3 mm/compaction.c (isolate_migratepages_block)',
      'docs/callers-pinning.md',
    ],
    config: {
      nodes: [{ pages: 2048, movablePages: 1024 }],
      cpusPerNode: 3,
      variant: 'v6.3',
      zeroPage: false,
    },
    // Clean in every variant. The second compaction waits for the pin on a completion: the
    // busy-wait it once had (`while (rc === null) yield`) spun forever under PCT once its
    // task held the highest priority, a livelock of the scenario, not of the kernel.
    history: bugHistory({}),
    build(k) {
      const { mm, addr } = appMapping(k, pages);
      const result = longtermPinResult();
      const skipped: CompactionSkip[] = [];
      let compacted = false;
      // The compact_memory task: a SIGKILL (fault site signal.fatal_signal_pending) stops
      // its compaction early (isolate_migratepages_block: -EINTR, COMPACT_CONTENDED), after
      // the pfns below `scannedTo`.
      let compactTask: Task | null = null;
      let scannedTo = Number.POSITIVE_INFINITY;
      // The user-space side: the sysctl write that follows the pin is issued once
      // pin_user_pages has returned (the driver completes it).
      const pinReturned = new Completion(k.rt, 'pin_user_pages returned');
      const driver = longtermPin(k, { name: 'driver', cpu: 0, mm, addr, pages, result });
      // The driver's task: a SIGKILL (fault site signal.fatal_signal_pending) ends its pin at
      // __get_user_pages' check (mm/gup.c, 6.3).
      let driverTask: Task | null = null;
      const pinned = () => result.pages;
      /** A failed pin must leave no page of the buffer pinned. */
      const nothingPinned = (rc: string): string | null => {
        if (result.pages.length > 0) return 'pin_user_pages failed but kept pages';
        for (let i = 0; i < pages; i++) {
          const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
          if (pfn >= 0 && k.vm.folioMaybeDmaPinned(pfnFolio(k.mem, pfn))) {
            return `pin_user_pages returned ${rc} but page ${i} (pfn ${pfn}) is still pinned`;
          }
        }
        return null;
      };
      const pinnable = endInvariant(LONGTERM_PIN_PINNABLE, () => {
        // migrate_longterm_unpinnable_pages (mm/gup.c, 6.3): a migrate_pages() that fails
        // (an allocation failure, a folio still busy after the passes) makes the pin fail
        // with -ENOMEM, every page unpinned. Legal then, and only then.
        if (result.rc === -ENOMEM && result.stats.migrateFailed > 0)
          return nothingPinned('-ENOMEM');
        // __get_user_pages (mm/gup.c, 6.3): a fatal signal pending ends the pin with -EINTR
        // (nothing pinned) or with the pages pinned before it. Legal for a killed driver only.
        const killed = driverTask?.fatalSignalPending === true;
        if (killed && result.rc === -EINTR) return nothingPinned('-EINTR');
        const partial = killed && result.rc !== null && result.rc > 0 && result.rc < pages;
        const expected = partial ? (result.rc as number) : pages;
        if (result.rc !== expected)
          return `pin_user_pages returned ${String(result.rc)}, not ${pages}`;
        for (let i = 0; i < expected; i++) {
          const pfn = pinned()[i]!;
          if (isZoneMovablePage(k.mem, pfn)) return `pinned pfn ${pfn} is in ZONE_MOVABLE`;
          if (isMigrateCmaPage(k.mem, pfn)) return `pinned pfn ${pfn} is in a CMA pageblock`;
          if (!k.vm.folioMaybeDmaPinned(pfnFolio(k.mem, pfn))) {
            return `pfn ${pfn} is not pinned any more`;
          }
          const mapped = k.vm.followPage(mm, addr + i * PAGE_SIZE);
          if (mapped !== pfn) {
            return `page ${i} of the buffer is pfn ${mapped}, but the pin holds pfn ${pfn}`;
          }
        }
        return null;
      });
      const refused = endInvariant(LONGTERM_PIN_REFUSED, () => {
        if (!compacted) return 'the compaction after the pin did not run';
        const killed = compactTask?.fatalSignalPending === true;
        for (const pfn of pinned()) {
          // Killed: the scan ended where it saw the signal; only what it reached is checked.
          if (killed && pfn >= scannedTo) continue;
          if (!skipped.some((s) => s.pfn === pfn && s.reason === 'pinned')) {
            return `compaction did not refuse pinned pfn ${pfn} as pinned`;
          }
        }
        return null;
      });
      return {
        *setup() {
          yield* writePagesAndDrain(k, mm, addr, pages);
          for (let i = 0; i < pages; i++) {
            const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
            if (!isZoneMovablePage(k.mem, pfn)) {
              throw new Error(
                `longterm-pin: page ${i} of the buffer (pfn ${pfn}) is not in ZONE_MOVABLE`,
              );
            }
          }
        },
        actors: [
          pageWriter(k, { cpu: 1, mm, addr, pages, accesses }),
          {
            ...driver,
            *body(task): KernelGen {
              driverTask = task;
              pinReturned.signaller = task;
              yield* driver.body(task);
              pinReturned.completeAll();
            },
          },
          {
            name: 'compact_memory',
            cpu: 2,
            models:
              'sysctl compact_memory: compact_nodes -> compact_node -> compact_zone (MIGRATE_SYNC, MR_COMPACTION) (mm/compaction.c, 6.3), during and after the pin',
            *body(task: Task): KernelGen {
              compactTask = task;
              yield* compactNodes(k);
              yield* pinReturned.wait();
              yield* k.lru.lruAddDrainAll();
              const cc = new CompactControl(k, {
                order: -1,
                mode: MIGRATE_SYNC,
                nid: 0,
                ignore_skip_hint: true,
                whole_zone: true,
              });
              onCompactionSkip(cc, (s) => {
                skipped.push(s);
              });
              yield* compactZone(k, cc);
              compacted = true;
              if (task.fatalSignalPending) scannedTo = cc.migrate_pfn;
            },
          },
        ],
        invariants: [pinnable, refused],
        figures: () => ({
          pin_attempts: result.stats.attempts,
          pin_migrated: result.stats.migrated,
          pgmigrate_success: k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS),
          compaction_refused_pinned: skipped.filter((s) => s.reason === 'pinned').length,
          nr_foll_pin_acquired: k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_ACQUIRED),
          nr_foll_pin_released: k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_RELEASED),
        }),
      };
    },
  };
}
