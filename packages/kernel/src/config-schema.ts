import { MAX_MEMORY_COST_FACTOR, MAX_NODE_PAGES, MAX_NUMNODES } from '@mmsim/folio';
import { type IntegerSettingRange, VARIANT_SETTINGS, type VariantSettings } from '@mmsim/migrate';
import { COST_PROFILE_NAMES, DEFAULT_COSTS, MAX_SEED, STRATEGY_NAMES } from '@mmsim/runtime';
import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';

/**
 * The data half of a kernel configuration, as a zod schema: everything that can be written
 * in a JSON scenario file (nodes, CPUs, variant, costs, seed, strategy, checking, faults).
 * Functions (a custom strategy object, `onStep`, replacement parts) are validated by hand
 * in `config.ts`. The same schema gives the JSON Schema of scenario files
 * (`kernelConfigJsonSchema`).
 *
 * Messages are written to follow the field path: the formatter prints
 * `nodes[1].pages must be a positive integer ...`.
 */

/** The migrate variants, by name (kept in step with `@mmsim/migrate`'s `VARIANTS`). */
export const VARIANT_NAMES = [
  'v6.2',
  'rfc-2022',
  'v6.3-rc1',
  'v6.3',
  'v6.4',
  'v6.10',
  'v6.11',
  'v6.12',
  'v6.17',
  'batch-copy',
] as const;

/** Largest number of CPUs per node the kernel builds (the runtime's limit is 4096 in all). */
export const MAX_CPUS_PER_NODE = 64;

/**
 * Most page frames of a machine, all nodes together: 2^24 frames (64 GiB of 4 KiB pages).
 * A frame costs some 20 bytes until it is used, so no valid configuration exhausts memory.
 */
export const MAX_MACHINE_PAGES = 1 << 24;

/** Most scheduling points of one run (`maxSteps`, and `--max-steps` of the command). */
export const MAX_STEPS = 1_000_000_000;

/** How the page-lock dependency checker names lock classes (see `lock-classes.ts`). */
export const LOCK_CLASS_MODES = ['folio', 'page-cache-index'] as const;

function int(what: string, min: number, max: number) {
  const message = `must be ${what} (an integer in [${min}, ${max}])`;
  return z
    .number({ invalid_type_error: message, required_error: message })
    .int({ message })
    .min(min, { message })
    .max(max, { message });
}

/** One CMA area of the machine configuration. */
const cmaAreaSchema = z
  .object({
    name: z
      .string({ invalid_type_error: 'must be a string (the area name, as in /sys/kernel/mm/cma)' })
      .min(1, { message: 'must not be empty' })
      .optional()
      .describe("The area's name; default 'reserved' for the first, 'cma<i>' after."),
    base: int('a pfn (pageblock-aligned)', 0, MAX_MACHINE_PAGES - 1).describe(
      'First pfn of the area; pageblock-aligned (a multiple of 512), on one node, free at boot.',
    ),
    pages: int('a number of pages (a multiple of 512)', 512, MAX_MACHINE_PAGES).describe(
      'Size of the area in pages; a multiple of 512 (pageblock_nr_pages).',
    ),
  })
  .strict();

/** What each cost of the virtual-time model is (the JSON Schema's descriptions). */
const COST_DESCRIPTIONS: Readonly<Record<keyof typeof DEFAULT_COSTS, string>> = {
  copyPage4k: 'copying one 4 KiB base page (copy_highpage / folio_copy, per base page)',
  tlbFlushLocal: 'flushing a whole mm from the local TLB (flush_tlb_mm on this CPU)',
  tlbFlushOnePage: 'invalidating one virtual page in the local TLB (invlpg)',
  tlbShootdownBase: 'the initiating CPU of one TLB-shootdown round (flush_tlb_multi), fixed part',
  tlbShootdownPerCpu:
    'each target CPU of a shootdown: the IPI and the wait for its acknowledgement',
  pteUpdate: 'reading, exchanging or writing one PTE or PMD with an atomic operation',
  lockRoundTrip: 'an uncontended lock and unlock of a spinlock, mutex, rwsem or page bit lock',
  rmapStep: 'one step of an rmap walk: visiting one VMA of an anon_vma or i_mmap tree',
  atomicOp: 'an atomic refcount or flag operation on struct page',
  pageAlloc: 'allocating or freeing one page through the per-CPU lists or the buddy',
  contextSwitch: 'switching the CPU from one task to another (schedule())',
  wakeup: 'waking a task that sleeps on another CPU (try_to_wake_up with a reschedule IPI)',
  userAccess: 'a user-space memory access that hits the TLB',
  tlbMiss: 'a page-table walk after a TLB miss',
  dmaChannelSetup:
    'preparing, submitting and completing one DMA memcpy job on one channel (copy offload, per channel a batch uses)',
  dmaChannelPage4k: 'one DMA channel moving one 4 KiB page (copy offload)',
  copyThreadSetup: 'starting and joining one extra copy thread of a multi-threaded batch copy',
  copyThreadPage4k: 'one copy thread of a multi-threaded batch copy moving one 4 KiB page',
};

const costShape = Object.fromEntries(
  Object.keys(DEFAULT_COSTS).map((key) => [
    key,
    z
      .number({ invalid_type_error: 'must be a finite number of nanoseconds >= 0' })
      .finite({ message: 'must be a finite number of nanoseconds >= 0' })
      .min(0, { message: 'must be a finite number of nanoseconds >= 0' })
      .optional()
      .describe(
        `Virtual ns of ${COST_DESCRIPTIONS[key as keyof typeof DEFAULT_COSTS]}; default ${DEFAULT_COSTS[key as keyof typeof DEFAULT_COSTS]}.`,
      ),
  ]),
) as Record<keyof typeof DEFAULT_COSTS, z.ZodOptional<z.ZodNumber>>;

const costFactorMessage = `must be a cost factor in [1, ${MAX_MEMORY_COST_FACTOR}]`;
const costFactor = z
  .number({ invalid_type_error: costFactorMessage })
  .finite({ message: costFactorMessage })
  .min(1, { message: costFactorMessage })
  .max(MAX_MEMORY_COST_FACTOR, { message: costFactorMessage })
  .optional();

const nodeSchema = z
  .object({
    pages: int('a positive integer number of 4 KiB pages', 1, MAX_NODE_PAGES).describe(
      `Memory of the node in 4 KiB page frames (at most ${MAX_NODE_PAGES}; all nodes together at most ${MAX_MACHINE_PAGES}).`,
    ),
    hugetlbPages: int('a number of 2 MiB hugetlb pages to reserve', 0, MAX_NODE_PAGES)
      .optional()
      .describe(
        '2 MiB hugetlb pages reserved on the node (each takes 512 aligned frames); default 0.',
      ),
    cpus: int('a number of CPUs on this node', 0, MAX_CPUS_PER_NODE)
      .optional()
      .describe("CPUs of the node (numbered after the previous nodes' CPUs); default cpusPerNode."),
    movablePages: int('a number of 4 KiB pages for ZONE_MOVABLE', 0, MAX_NODE_PAGES)
      .optional()
      .describe(
        "Pages at the top of the node that form its ZONE_MOVABLE (the node's share of movablecore=; the zone's start is rounded up to 1024 pages); default 0.",
      ),
    memory: z
      .object({
        accessFactor: costFactor.describe(
          'Factor on userAccess for a user access to a page of this node; default 1.',
        ),
        copyFactor: costFactor.describe(
          "Factor on copyPage4k for a page migrated to or from this node (the larger node's factor counts); default 1.",
        ),
      })
      .strict()
      .optional()
      .describe(
        "How much slower this node's memory is than local DRAM (a CPU-less CXL-like tier); default factors 1.",
      ),
  })
  .strict()
  .describe('A NUMA node: its memory, hugetlb reservation and CPUs.');

const pctSchema = z
  .object({
    kind: z.literal('pct').describe('Probabilistic concurrency testing (PCT).'),
    depth: int('a PCT bug depth', 1, 1000)
      .optional()
      .describe('Bug depth d: the run has d - 1 priority change points; default 3.'),
    steps: int('a PCT number of steps', 1, 1e9)
      .optional()
      .describe('Expected number of scheduling points, where the change points are drawn.'),
  })
  .strict();

const replaySchema = z
  .object({
    kind: z.literal('replay').describe('Replays the schedule recorded in a token.'),
    token: z
      .string({ invalid_type_error: 'must be a replay token string' })
      .min(1)
      .describe('A replay token printed by mmsim run or explore.'),
  })
  .strict();

const strategyMessage = `must be one of ${STRATEGY_NAMES.map((n) => `'${n}'`).join(', ')}, { kind: 'pct', depth?, steps? }, { kind: 'replay', token } or a Strategy object`;

const strategySchema = z.union(
  [z.enum(STRATEGY_NAMES as unknown as readonly [string, ...string[]]), pctSchema, replaySchema],
  { errorMap: () => ({ message: strategyMessage }) },
);

const probabilityMessage = 'must be a probability in [0, 1]';
const callsMessage = 'must list call numbers (integers >= 1)';
const faultSpecSchema = z.union(
  [
    z
      .object({
        probability: z
          .number({ invalid_type_error: probabilityMessage })
          .min(0, { message: probabilityMessage })
          .max(1, { message: probabilityMessage })
          .describe('Each call of the fault point fails with this probability.'),
      })
      .strict(),
    z
      .object({
        calls: z
          .array(
            z
              .number({ invalid_type_error: callsMessage })
              .int({ message: callsMessage })
              .min(1, { message: callsMessage }),
            { invalid_type_error: callsMessage },
          )
          .describe('These calls of the fault point fail (1 is the first call).'),
      })
      .strict(),
  ],
  {
    errorMap: () => ({
      message: 'must be { probability: p in [0, 1] } or { calls: [call numbers >= 1] }',
    }),
  },
);

const dependencySchema = z.union(
  [
    z.boolean(),
    z
      .object({
        lockClass: z
          .enum(LOCK_CLASS_MODES)
          .optional()
          .describe(
            "How lock classes are named: 'folio' (one class per folio) or 'page-cache-index' (by mapping and index).",
          ),
      })
      .strict(),
  ],
  {
    errorMap: () => ({
      message: `must be a boolean or { lockClass: ${LOCK_CLASS_MODES.map((m) => `'${m}'`).join(' | ')} }`,
    }),
  },
);

const boolean = (what: string, description: string) =>
  z
    .boolean({ invalid_type_error: `must be a boolean (${what})` })
    .optional()
    .describe(description);

/** The data fields of `KernelConfig`. */
export const kernelConfigSchema = z
  .object({
    nodes: z
      .array(nodeSchema, {
        invalid_type_error: 'must be an array of nodes { pages, hugetlbPages?, cpus? }',
        required_error: 'must be an array of nodes { pages, hugetlbPages?, cpus? }',
      })
      .min(1, { message: `must list 1 to ${MAX_NUMNODES} nodes` })
      .max(MAX_NUMNODES, { message: `must list 1 to ${MAX_NUMNODES} nodes` })
      .describe(`The NUMA nodes of the machine, node 0 first (1 to ${MAX_NUMNODES}).`),
    distances: z
      .array(
        z.array(
          z
            .number({ invalid_type_error: 'must be an integer node distance' })
            .int({ message: 'must be an integer node distance' }),
          { invalid_type_error: 'must be a row of node distances' },
        ),
        { invalid_type_error: 'must be a table (array of rows) of node distances' },
      )
      .optional()
      .describe(
        'The node distance table (ACPI SLIT): distances[a][b] = node_distance(a, b), one row and column per node, 10 on the diagonal, 11 to 254 elsewhere; default 10 local, 20 remote. Orders allocation fallback and the demotion targets.',
      ),
    cpusPerNode: int('a number of CPUs per node', 1, MAX_CPUS_PER_NODE)
      .optional()
      .describe('CPUs of a node that does not give its own cpus; default 2.'),
    variant: z
      .enum(VARIANT_NAMES, {
        errorMap: () => ({
          message: `must be one of ${VARIANT_NAMES.map((v) => `'${v}'`).join(', ')}`,
        }),
      })
      .optional()
      .describe(
        `The migrate variant (kernel version whose migrate_pages() is modelled): ${VARIANT_NAMES.join(', ')}; default the scenario's own, else v6.3.`,
      ),
    costs: z
      .object(costShape)
      .strict()
      .optional()
      .describe('Virtual-time costs in nanoseconds; each one given replaces its default.'),
    costProfile: z
      .enum(COST_PROFILE_NAMES, {
        errorMap: () => ({
          message: `must be one of ${COST_PROFILE_NAMES.map((n) => `'${n}'`).join(', ')}`,
        }),
      })
      .optional()
      .describe(
        `A named cost profile of a machine (${COST_PROFILE_NAMES.join(', ')}; docs/calibration.md): its costs replace the defaults; a cost given in \`costs\` still wins.`,
      ),
    seed: int('a seed', 0, MAX_SEED)
      .optional()
      .describe(`Seed of every random stream (0 to ${MAX_SEED}); default 1.`),
    strategy: strategySchema
      .optional()
      .describe(
        `The schedule: ${STRATEGY_NAMES.join(', ')}, { kind: 'pct', depth?, steps? } or { kind: 'replay', token }; default in-order (lowest-clock for a scenario written as data).`,
      ),
    maxSteps: int('a number of scheduling points', 1, MAX_STEPS)
      .optional()
      .describe(
        `A run that has not ended after this many scheduling points stops (status step-limit); at most ${MAX_STEPS}, default 10000000.`,
      ),
    meta: z
      .string({ invalid_type_error: 'must be a string' })
      .optional()
      .describe('Free text carried in the replay token.'),
    dependencyChecking: dependencySchema
      .optional()
      .describe(
        "The page-lock dependency checker (lockdep for folio locks): true, false, or { lockClass }; default off, true means 'page-cache-index'.",
      ),
    pageLockUnfairness: int('a number of stolen wake-ups', 0, 0x7fffffff)
      .optional()
      .describe(
        'sysctl_page_lock_unfairness (mm/filemap.c): times a woken folio-lock waiter may find its lock stolen before the unlocker hands it over; default 5.',
      ),
    faults: z
      .record(faultSpecSchema)
      .optional()
      .describe('Injected failures, by fault-point name: { probability } or { calls }.'),
    zeroPage: boolean(
      'a read fault of untouched anonymous memory maps the zero page',
      'A read fault of untouched anonymous memory maps the shared zero page; default true.',
    ),
    thpMigrationSupported: boolean(
      'CONFIG_ARCH_ENABLE_THP_MIGRATION',
      'CONFIG_ARCH_ENABLE_THP_MIGRATION: a THP migrates whole (else it is split first); default true.',
    ),
    hugepageMigrationSupported: boolean(
      'hugepage_migration_supported()',
      'hugepage_migration_supported(): hugetlb folios can migrate; default true.',
    ),
    nrOvercommitHugePages: int(
      'a number of surplus 2 MiB hugetlb pages allowed (vm.nr_overcommit_hugepages)',
      0,
      0x7fffffff,
    )
      .optional()
      .describe('vm.nr_overcommit_hugepages: surplus 2 MiB hugetlb pages allowed; default 0.'),
    shmemEnabled: z
      .enum(['never', 'always', 'within_size', 'advise'], {
        errorMap: () => ({
          message: "must be 'never', 'always', 'within_size' or 'advise' (shmem_enabled)",
        }),
      })
      .optional()
      .describe(
        "/sys/kernel/mm/transparent_hugepage/shmem_enabled: when faults of MAP_SHARED | MAP_ANONYMOUS memory allocate PMD-size shmem folios; default 'never'.",
      ),
    memoryBlockPages: int('a number of pages (memory_block_size_bytes / 4096)', 512, 1 << 24)
      .refine((n) => (n & (n - 1)) === 0, {
        message: 'must be a power of two number of pages, at least one pageblock (512)',
      })
      .optional()
      .describe(
        'memory_block_size_bytes() in 4 KiB pages: the unit memory hotplug onlines and offlines (/sys/devices/system/memory/memoryN); a power of two, at least 512; default 1024 (4 MiB: the model machines are small, x86-64 uses 128 MiB and more).',
      ),
    cma: z
      .array(cmaAreaSchema)
      .max(8, { message: 'at most 8 CMA areas (MAX_CMA_AREAS in the model)' })
      .optional()
      .describe(
        'CMA areas reserved at boot (cma_declare_contiguous / cma_init_reserved_areas): their pageblocks are MIGRATE_CMA, usable by movable allocations only until cma_alloc takes them.',
      ),
  })
  .strict()
  .describe("The machine and how it runs (the data half of createKernel's configuration).");

/** The data fields of a kernel configuration, as the schema reads them. */
export type KernelConfigData = z.input<typeof kernelConfigSchema>;

/**
 * The JSON Schema (draft 2019-09 flavour of zod-to-json-schema) of the data half of a
 * kernel configuration, for scenario files and editors.
 */
export function kernelConfigJsonSchema(): Record<string, unknown> {
  return zodToJsonSchema(kernelConfigSchema, {
    name: 'KernelConfig',
    $refStrategy: 'none',
  }) as Record<string, unknown>;
}

/** A numeric variant setting: an integer from `min` to `max`. */
function integerSetting({ integer: { min, max } }: IntegerSettingRange) {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .number({ errorMap: () => ({ message }) })
    .int({ message })
    .min(min, { message })
    .max(max, { message });
}

/**
 * A variant file (`mmsim --variant ./my-variant.json|yaml`): a pure-policy variant, the
 * variant it extends plus the settings it changes, each setting one of the values of
 * `@mmsim/migrate`'s `VARIANT_SETTINGS` (the same table `defineVariant` checks against).
 */
export const variantFileSchema = z
  .object({
    $schema: z.string().optional().describe('The JSON Schema of this file, for editors.'),
    name: z
      .string({ invalid_type_error: 'must be a string' })
      .regex(/^[^\s@]+$/, { message: "must be a non-empty name without spaces or '@'" })
      .optional()
      .describe("The variant's name (default: the file's name without its extension)."),
    extends: z
      .enum(VARIANT_NAMES, {
        errorMap: () => ({
          message: `must be one of ${VARIANT_NAMES.map((v) => `'${v}'`).join(', ')}`,
        }),
      })
      .describe('The built-in variant whose settings are the defaults.'),
    description: z.string({ invalid_type_error: 'must be a string' }).optional(),
    sources: z.array(z.string({ invalid_type_error: 'must be a string' })).optional(),
    ...Object.fromEntries(
      (Object.keys(VARIANT_SETTINGS) as (keyof VariantSettings)[]).map((key) => {
        const values = VARIANT_SETTINGS[key];
        const field =
          values === 'boolean'
            ? z.boolean({
                errorMap: () => ({ message: 'must be a boolean (true or false)' }),
              })
            : !Array.isArray(values)
              ? integerSetting(values as IntegerSettingRange)
              : z.enum(values as [string, ...string[]], {
                  errorMap: () => ({
                    message: `must be one of ${values.map((v) => `'${v}'`).join(', ')}`,
                  }),
                });
        return [key, field.optional().describe(`Policy setting ${key} (see docs/variants.md).`)];
      }),
    ),
    avoidForceLock: z
      .boolean({ errorMap: () => ({ message: 'must be a boolean (true or false)' }) })
      .optional()
      .describe(
        "Former name of batchLockStrategy: true is 'deadlock-avoid', false is 'sleep' (see docs/variants.md).",
      ),
  })
  .strict()
  .describe('A custom migrate variant: a built-in variant it extends, plus policy settings.');

/** The data of a variant file, as the schema reads it. */
export type VariantFileData = z.output<typeof variantFileSchema>;

/** The JSON Schema of variant files (checked in by @mmsim/cli as schema/variant-file.schema.json). */
export function variantFileJsonSchema(): Record<string, unknown> {
  return zodToJsonSchema(variantFileSchema, {
    name: 'VariantFile',
    $refStrategy: 'none',
  }) as Record<string, unknown>;
}
