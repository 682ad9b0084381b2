import { MAX_NODE_PAGES, MAX_NUMNODES } from '@mmsim/folio';
import { DEFAULT_COSTS, MAX_SEED, STRATEGY_NAMES } from '@mmsim/runtime';
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
export const VARIANT_NAMES = ['v6.2', 'rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.10', 'v6.11'] as const;

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

const costShape = Object.fromEntries(
  Object.keys(DEFAULT_COSTS).map((key) => [
    key,
    z
      .number({ invalid_type_error: 'must be a finite number of nanoseconds >= 0' })
      .finite({ message: 'must be a finite number of nanoseconds >= 0' })
      .min(0, { message: 'must be a finite number of nanoseconds >= 0' })
      .optional(),
  ]),
) as Record<keyof typeof DEFAULT_COSTS, z.ZodOptional<z.ZodNumber>>;

const nodeSchema = z
  .object({
    pages: int('a positive integer number of 4 KiB pages', 1, MAX_NODE_PAGES),
    hugetlbPages: int('a number of 2 MiB hugetlb pages to reserve', 0, MAX_NODE_PAGES).optional(),
    cpus: int('a number of CPUs on this node', 0, MAX_CPUS_PER_NODE).optional(),
  })
  .strict();

const pctSchema = z
  .object({
    kind: z.literal('pct'),
    depth: int('a PCT bug depth', 1, 1000).optional(),
    steps: int('a PCT number of steps', 1, 1e9).optional(),
  })
  .strict();

const replaySchema = z
  .object({
    kind: z.literal('replay'),
    token: z.string({ invalid_type_error: 'must be a replay token string' }).min(1),
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
          .max(1, { message: probabilityMessage }),
      })
      .strict(),
    z
      .object({
        calls: z.array(
          z
            .number({ invalid_type_error: callsMessage })
            .int({ message: callsMessage })
            .min(1, { message: callsMessage }),
          { invalid_type_error: callsMessage },
        ),
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
        lockClass: z.enum(LOCK_CLASS_MODES).optional(),
      })
      .strict(),
  ],
  {
    errorMap: () => ({
      message: `must be a boolean or { lockClass: ${LOCK_CLASS_MODES.map((m) => `'${m}'`).join(' | ')} }`,
    }),
  },
);

const boolean = (what: string) =>
  z.boolean({ invalid_type_error: `must be a boolean (${what})` }).optional();

/** The data fields of `KernelConfig`. */
export const kernelConfigSchema = z
  .object({
    nodes: z
      .array(nodeSchema, {
        invalid_type_error: 'must be an array of nodes { pages, hugetlbPages?, cpus? }',
        required_error: 'must be an array of nodes { pages, hugetlbPages?, cpus? }',
      })
      .min(1, { message: `must list 1 to ${MAX_NUMNODES} nodes` })
      .max(MAX_NUMNODES, { message: `must list 1 to ${MAX_NUMNODES} nodes` }),
    cpusPerNode: int('a number of CPUs per node', 1, MAX_CPUS_PER_NODE).optional(),
    variant: z
      .enum(VARIANT_NAMES, {
        errorMap: () => ({
          message: `must be one of ${VARIANT_NAMES.map((v) => `'${v}'`).join(', ')}`,
        }),
      })
      .optional(),
    costs: z.object(costShape).strict().optional(),
    seed: int('a seed', 0, MAX_SEED).optional(),
    strategy: strategySchema.optional(),
    maxSteps: int('a number of scheduling points', 1, MAX_STEPS).optional(),
    meta: z.string({ invalid_type_error: 'must be a string' }).optional(),
    dependencyChecking: dependencySchema.optional(),
    pageLockUnfairness: int('a number of stolen wake-ups', 0, 0x7fffffff).optional(),
    faults: z.record(faultSpecSchema).optional(),
    zeroPage: boolean('a read fault of untouched anonymous memory maps the zero page'),
    thpMigrationSupported: boolean('CONFIG_ARCH_ENABLE_THP_MIGRATION'),
    hugepageMigrationSupported: boolean('hugepage_migration_supported()'),
    nrOvercommitHugePages: int(
      'a number of surplus 2 MiB hugetlb pages allowed (vm.nr_overcommit_hugepages)',
      0,
      0x7fffffff,
    ).optional(),
  })
  .strict();

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
