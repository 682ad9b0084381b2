import { touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { migrator } from '../actors/migrator.js';
import { pfnWalker } from '../actors/pfn-walker.js';
import { mappedFolios } from '../actors/selectors.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `staleDstMapping`. */
export interface StaleDstMappingParams {
  /** Anonymous pages migrated together. Default 8. */
  readonly pages?: number;
  /** move_pages calls, each to the other node. Default 2. */
  readonly migrations?: number;
  /** Passes of the pfn walker over node 1. Default 3. */
  readonly walks?: number;
}

/**
 * `stale-dst-mapping`: Baolin Wang, December 2023 (stress-ng on arm64, a NULL dereference in
 * `dentry_name` under `__dump_page` <- `set_migratetype_isolate` <- `offline_pages`). From
 * 6.3-rc1 (the batch series, 42012e0436d4 and `__migrate_folio_record`) to the fix,
 * `migrate_folio_unmap` parked the anon_vma of an anonymous src in `dst->mapping`, untagged,
 * until `migrate_folio_move` took it back; a pfn walker that met dst in that window read
 * `folio_mapping(dst)` as a file's `address_space` and followed it. Fixed by "mm: migrate:
 * fix getting incorrect page mapping during page migration" (d1adb25df711, merged for
 * 6.8-rc1 and taken into 6.6.y and 6.7.y stable): the anon_vma and the state bits move to
 * `dst->private` (variant setting `dstStateInPrivate`).
 *
 * Here: a process with `pages` anonymous pages on node 0, migrated back and forth with
 * move_pages (MIGRATE_SYNC: in 6.3 the whole list goes through one MIGRATE_ASYNC batch
 * first, so every dst sits recorded while the others unmap), and a pfn walker walking node
 * 1, where the destinations of the first call are.
 *
 * Expected: an oops in the walker in `rfc-2022`, `v6.3-rc1` and `v6.3`; nothing in `v6.2`
 * (`unmap_and_move` kept the anon_vma in a local) nor in `v6.10` and `v6.11`.
 */
export function staleDstMapping(params: StaleDstMappingParams = {}): Scenario {
  const pages = params.pages ?? 8;
  const migrations = params.migrations ?? 2;
  const walks = params.walks ?? 3;
  return {
    name: 'stale-dst-mapping',
    title:
      'Baolin Wang, Dec 2023: a pfn walker reads the anon_vma parked in dst->mapping as an address_space',
    description:
      'Between migrate_folio_unmap and migrate_folio_move the batch engine kept the anon_vma of ' +
      'an anonymous src untagged in dst->mapping; __dump_page (memory offlining) took it for a ' +
      "file's address_space and crashed (Baolin Wang, December 2023). An oops in the pfn walker " +
      'in rfc-2022, v6.3-rc1 and v6.3; fixed by d1adb25df711 (the state moves to dst->private, ' +
      'setting dstStateInPrivate; 6.8-rc1, stable 6.6/6.7), clean in v6.10 and v6.11; v6.2 kept ' +
      'the anon_vma in a local.',
    sources: [
      'Baolin Wang, "mm: migrate: fix getting incorrect page mapping during page migration", upstream d1adb25df711 (6.8-rc1; stable 6.6.y, 6.7.y)',
      'torvalds/linux v6.3 mm/migrate.c: __migrate_folio_record, __migrate_folio_extract, migrate_folio_unmap, migrate_folio_move',
      'torvalds/linux v6.3 mm/debug.c: __dump_page, dump_mapping',
    ],
    config: {
      nodes: [{ pages: 256 }, { pages: 64 }],
      cpusPerNode: 2,
      variant: 'v6.3',
    },
    history: bugHistory({ failsIn: ['rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.4'] }),
    build(k) {
      const mm = k.vm.createProcess('stress-ng');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      return {
        *setup() {
          yield* touchPages(k, mm, addr, pages, (i) => 60_000 + i);
        },
        actors: [
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            select: mappedFolios(k, mm, addr, pages),
          }),
          pfnWalker(k, { name: 'offline_pages', cpu: 2, nid: 1, rounds: walks }),
        ],
      };
    },
  };
}
