import { MIGRATE_MODE_NAMES } from '@mmsim/migrate';
import { MmsimError } from '@mmsim/runtime';
import { type ZodTypeAny, z } from 'zod';

/**
 * The parameters of the built-in scenarios as zod schemas: types, ranges, and unknown keys
 * rejected. `builtinScenario` and the scenario files of `mmsim` check `params` with them,
 * and the JSON Schema of scenario files is generated from them, so the three agree. The
 * maxima keep a run's memory and time bounded (every page is a folio with its page-table
 * entry, every round a full migration of the scenario's folios).
 */
function count(what: string, min: number, max: number, fallback: number) {
  const message = `must be an integer in [${min}, ${max}] (${what})`;
  return z
    .number({ invalid_type_error: message, required_error: message })
    .int({ message })
    .min(min, { message })
    .max(max, { message })
    .optional()
    .describe(
      `${what[0]?.toUpperCase()}${what.slice(1)}; an integer in [${min}, ${max}], default ${fallback}.`,
    );
}

const modeMessage = `must be a migrate mode: ${MIGRATE_MODE_NAMES.join(', ')} or its number 0 to ${MIGRATE_MODE_NAMES.length - 1}`;

/** The parameters of each built-in scenario, by name (every field optional). */
export const BUILTIN_PARAM_SCHEMAS = {
  'pmbench-migrate': z
    .object({
      threads: count('pmbench threads, one per CPU (CPUs 1..T)', 1, 63, 4),
      pages: count('pages of the working set', 1, 4096, 256),
      roundTrips: count('round trips node 0 -> node 1 -> node 0', 1, 1000, 2),
      mode: z
        .union(
          [
            z.enum(MIGRATE_MODE_NAMES),
            z
              .number()
              .int()
              .min(0)
              .max(MIGRATE_MODE_NAMES.length - 1),
          ],
          { errorMap: () => ({ message: modeMessage }) },
        )
        .optional()
        .describe(
          `Mode of the migrate_pages calls: ${MIGRATE_MODE_NAMES.join(', ')} (or 0 to ${MIGRATE_MODE_NAMES.length - 1}); default MIGRATE_SYNC.`,
        ),
      computeNs: count('virtual ns of work between two accesses of a thread', 0, 1e9, 2000),
      durationNs: count('virtual ns the test runs', 1000, 1e9, 0).describe(
        'Virtual ns the test runs (pmbench runs for a set duration; migratepages goes back and forth until it ends), instead of roundTrips; an integer in [1000, 1000000000], default none.',
      ),
    })
    .strict(),
  'rfc-lock-order': z
    .object({
      pages: count('pages of the file, locked and migrated together', 1, 256, 2),
      migrations: count('move_pages calls, each to the other node', 1, 10_000, 4),
      lockRounds: count('times the range locker takes the run of pages', 1, 10_000, 6),
    })
    .strict(),
  'loop-bh-deadlock': z
    .object({
      pages: count('pages of the loop device and of its backing file', 1, 256, 2),
      compactions: count('compaction runs, each to the other node', 1, 10_000, 3),
      writes: count('passes of the filesystem over its metadata buffers', 1, 10_000, 2),
    })
    .strict(),
  'loop-writeback-deadlock': z
    .object({
      pages: count('pages of the file on the loop device', 1, 256, 2),
      compactions: count('compaction runs, each to the other node', 1, 10_000, 3),
      writes: count('write(2) calls of the writer', 1, 10_000, 8),
      writebacks: count('passes of the writeback worker', 1, 10_000, 2),
    })
    .strict(),
  'split-lock-deadlock': z
    .object({
      order: count('order of the large file folio', 1, 8, 2),
      compactions: count(
        'writes to /proc/sys/vm/compact_memory (compact_nodes, MIGRATE_SYNC)',
        1,
        10_000,
        4,
      ),
      reads: count('reads of the large folio', 1, 10_000, 4),
    })
    .strict(),
  'migrate-under-writes': z
    .object({
      accesses: count('accesses of each user task', 1, 100_000, 24),
      migrations: count('move_pages rounds, each to the other node', 1, 10_000, 3),
      compactions: count('compaction rounds (MIGRATE_ASYNC)', 0, 10_000, 1),
    })
    .strict(),
  'uffd-wp-restore': z
    .object({
      pages: count(
        'pages write-protected with UFFDIO_WRITEPROTECT (as many stay writable)',
        1,
        64,
        2,
      ),
      migrations: count('move_pages rounds, each to the other node', 1, 10_000, 2),
      reads: count('loads of the snapshot reader', 0, 100_000, 8),
    })
    .strict(),
  'dept-writeback-cycle': z
    .object({
      pages: count('pages of the ext4 data file', 1, 256, 2),
      compactions: count('whole-node compaction runs (MIGRATE_SYNC)', 1, 10_000, 3),
      writes: count('write(2) calls dirtying the data file', 1, 10_000, 6),
      writebacks: count('passes of the writeback worker', 1, 10_000, 2),
    })
    .strict(),
  'zfs-fallback-writeback': z
    .object({
      pages: count('dirty pages of the ZFS file', 1, 64, 1),
      compactions: count('whole-node compaction runs (MIGRATE_SYNC)', 1, 10_000, 2),
      migrateFolio: z
        .boolean({ invalid_type_error: 'must be true or false' })
        .optional()
        .describe(
          'Give the filesystem ->migrate_folio = migrate_folio (the OpenZFS fix, openzfs/zfs#16723); default false.',
        ),
    })
    .strict(),
  'deferred-split-chain': z
    .object({
      targetPages: count('pages of node 1, the target: room for one THP, not two', 513, 1023, 768),
    })
    .strict(),
  'stale-dst-mapping': z
    .object({
      pages: count('anonymous pages migrated together', 1, 32, 8),
      migrations: count('move_pages calls, each to the other node', 1, 10_000, 2),
      walks: count('passes of the pfn walker over node 1', 1, 10_000, 3),
    })
    .strict(),
  'bh-norefs-large-folio': z
    .object({
      order: count('order of the block device folio where the variant has large ones', 1, 8, 2),
      migrations: count(
        'migrations of the block device cache, each to the other node',
        1,
        10_000,
        2,
      ),
    })
    .strict(),
  'batch-copy-stale-copy': z
    .object({
      pages: count('pages of the shared buffer', 1, 256, 4),
      reads: count('O_DIRECT reads into the buffer', 0, 10_000, 6),
      migrations: count('move_pages rounds, each to the other node', 1, 10_000, 4),
    })
    .strict(),
  'batch-copy-unregister': z
    .object({
      pages: count('pages of the working set', 1, 256, 8),
      migrations: count('migration rounds, each to the other node', 1, 10_000, 4),
    })
    .strict(),
  'batch-copy-partial-failure': z
    .object({
      pages: count('pages of the working set', 1, 256, 8),
      migrations: count('demotion rounds, each to the other node', 1, 10_000, 3),
    })
    .strict(),
  'move-pages-loop': z
    .object({
      rounds: count('move_pages calls, each to the other node', 1, 10_000, 4),
      accesses: count('accesses of each reading and writing thread', 0, 100_000, 16),
      pages: count('pages of the private and of the shared mapping', 1, 256, 4),
    })
    .strict(),
  'ksm-migrate': z
    .object({
      pages: count('zero-filled mergeable pages in each of the two processes', 1, 256, 6),
      migrations: count('migration rounds, alternately to node 1 and node 0', 1, 10_000, 4),
      scans: count('ksmd batches after the set-up merge', 0, 10_000, 4),
      accesses: count('accesses of the writer thread, half of them stores', 0, 100_000, 8),
    })
    .strict(),
  'soft-offline': z
    .object({
      pages: count('pages the process maps and writes', 1, 256, 8),
      accesses: count('accesses of the writer (three writes in four)', 1, 100_000, 32),
      offlines: count('pages soft-offlined with madvise(MADV_SOFT_OFFLINE)', 0, 256, 4),
    })
    .strict(),
  'hugetlb-mapped-migrate': z
    .object({
      accesses: count('accesses of each user task', 1, 100_000, 12),
      migrations: count('move_pages rounds, each to the other node', 1, 10_000, 2),
    })
    .strict(),
  'shmem-thp-migrate': z
    .object({
      pages: count('pages of the shmem THP each writer touches', 1, 512, 16),
      accesses: count('accesses of each writer thread', 1, 100_000, 24),
      migrations: count('move_pages calls, each to the other node', 1, 10_000, 3),
    })
    .strict(),
  'compaction-under-load': z
    .object({
      pages: count("pages of the writers' working set", 1, 256, 24),
      accesses: count('accesses of each of the two writers', 1, 10_000, 16),
      allocations: count('order-2 allocation attempts', 1, 1_000, 4),
    })
    .strict(),
  'numa-balancing': z
    .object({
      pages: count('pages the process maps and writes on node 0', 1, 256, 16),
      accesses: count('accesses of each of the two threads on node 1', 1, 100_000, 48),
      passes: count('task_numa_work passes', 1, 1000, 2),
      thp: z
        .boolean({ invalid_type_error: 'must be true or false' })
        .optional()
        .describe(
          'map the pages as PMD-mapped THPs (rounded up to 512 pages): change_huge_pmd marks whole PMDs and one do_huge_pmd_numa_page fault moves each THP; default false',
        ),
    })
    .strict(),
  tiering: z
    .object({
      hot: count('pages of the hot working set', 1, 128, 8),
      cold: count('pages of the cold working set', 1, 256, 16),
      accesses: count('accesses of the thread to the hot set', 1, 100_000, 32),
    })
    .strict(),
  'longterm-pin': z
    .object({
      pages: count('pages of the buffer the driver pins with FOLL_LONGTERM', 1, 256, 8),
      accesses: count('accesses of the writer (three writes in four)', 1, 100_000, 24),
    })
    .strict(),
  'hotplug-offline': z
    .object({
      pages: count('pages the process maps and writes on node 1', 1, 256, 16),
      accesses: count('accesses of each of the two writer threads', 1, 100_000, 24),
      unmovable: z
        .boolean({ invalid_type_error: 'must be true or false' })
        .optional()
        .describe(
          'put an unmovable kernel page in the block: offline_pages fails with -EBUSY and undoes; default false',
        ),
    })
    .strict(),
  'cma-under-load': z
    .object({
      pages: count("pages of the process's mapping (the set-up writes half)", 2, 256, 16),
      accesses: count('accesses of each of the two writer threads', 1, 100_000, 24),
      count: count('pages of each cma_alloc', 1, 1536, 512),
      allocations: count('cma_alloc calls, each released before the next', 1, 1_000, 2),
    })
    .strict(),
} as const satisfies Readonly<Record<string, ZodTypeAny>>;

function pathOf(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : `${acc}.${key}`),
    'params',
  );
}

/**
 * Checks a built-in scenario's parameters against its schema; a problem throws
 * `INVALID_ARGUMENT` naming the field (`params.pages must be ...`, `params.foo is not a
 * parameter of loop-bh-deadlock; known: pages, compactions, writes`). Returns the
 * parameters with a mode name turned into its number.
 */
export function checkScenarioParams(
  name: keyof typeof BUILTIN_PARAM_SCHEMAS,
  params: unknown,
): Record<string, unknown> {
  const schema = BUILTIN_PARAM_SCHEMAS[name];
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new MmsimError('INVALID_ARGUMENT', 'params must be an object of named parameters');
  }
  const parsed = schema.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `${pathOf([...issue.path, issue.keys[0]!])} is not a parameter of ${name}; known: ${Object.keys(schema.shape).join(', ')}`,
      );
    }
    throw new MmsimError('INVALID_ARGUMENT', `${pathOf(issue.path)} ${issue.message}`);
  }
  const data: Record<string, unknown> = { ...parsed.data };
  if (typeof data.mode === 'string')
    data.mode = (MIGRATE_MODE_NAMES as readonly string[]).indexOf(data.mode);
  return data;
}
