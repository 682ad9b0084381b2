import { checkNodeDistances, HPAGE_PMD_NR, LOCAL_DISTANCE, REMOTE_DISTANCE } from '@mmsim/folio';
import { type MigrateVariant, resolveVariant, type VariantName } from '@mmsim/migrate';
import type { ShmemHuge } from '@mmsim/rmap';
import {
  type CostModel,
  costProfile,
  type FaultSpec,
  FootprintLog,
  MmsimError,
  resolveCosts,
  type StrategySpec,
  type Task,
} from '@mmsim/runtime';
import type { ZodIssue } from 'zod';
import {
  type KernelConfigData,
  kernelConfigSchema,
  type LOCK_CLASS_MODES,
  MAX_MACHINE_PAGES,
  VARIANT_NAMES,
} from './config-schema.js';
import { checkParts, type KernelParts } from './parts.js';

/**
 * What `createKernel` takes: the machine (nodes, their memory and hugetlb pages, CPUs per
 * node), the migrate variant, the cost model, the seed and schedule strategy, page-lock
 * dependency checking, fault injection, and optionally replacement parts.
 *
 * Everything but `onStep`, `parts` and a custom `Strategy` object is plain data and can be
 * read from a JSON file (`kernelConfigJsonSchema`).
 */
export interface KernelConfig extends Omit<KernelConfigData, 'strategy' | 'variant'> {
  /**
   * The migrate variant: a built-in name (`'v6.3'`, the default) or a variant value made by
   * `defineVariant` (`@mmsim/migrate`), checked field by field.
   */
  readonly variant?: VariantName | MigrateVariant;
  /** A strategy name, PCT options, a replay token, or your own `Strategy`. Default `'in-order'`. */
  readonly strategy?: StrategySpec;
  /** Called after every scheduling step (an explorer's hook); see `RuntimeConfig.onStep`. */
  readonly onStep?: (task: Task, step: number) => void;
  /** Where the runtime records step footprints (an explorer's, for dfs and dpor); see `RuntimeConfig.footprints`. */
  readonly footprints?: FootprintLog | null;
  /** Replacement implementations of the machine's parts (see `KernelParts`). */
  readonly parts?: KernelParts;
}

/** One node of a resolved configuration. */
export interface ResolvedNode {
  readonly pages: number;
  readonly hugetlbPages: number;
  readonly cpus: number;
  /** Pages of the node's ZONE_MOVABLE (`movablePages`); absent when 0. */
  readonly movablePages?: number;
  /** Cost factors of the node's memory (`nodes[i].memory`), 1 by default. */
  readonly accessFactor: number;
  readonly copyFactor: number;
}

/** A configuration with every default filled in, as the kernel was built from it. */
export interface ResolvedKernelConfig {
  readonly nodes: readonly ResolvedNode[];
  /** The node of each CPU, CPU id = index: node 0's CPUs first, then node 1's, ... */
  readonly cpuNodes: readonly number[];
  /** The node distance table (`distances`), default 10 local and 20 remote. */
  readonly distances: readonly (readonly number[])[];
  /** A built-in variant's name, or a variant value (`defineVariant`), checked. */
  readonly variant: VariantName | MigrateVariant;
  readonly costs: CostModel;
  readonly seed: number;
  readonly strategy: StrategySpec;
  readonly maxSteps: number;
  readonly meta: string;
  /** null when the page-lock dependency checker is off. */
  readonly dependencyChecking: { readonly lockClass: (typeof LOCK_CLASS_MODES)[number] } | null;
  readonly pageLockUnfairness: number | undefined;
  readonly faults: Readonly<Record<string, FaultSpec>>;
  readonly zeroPage: boolean;
  readonly thpMigrationSupported: boolean;
  readonly hugepageMigrationSupported: boolean;
  /** vm.nr_overcommit_hugepages: surplus hugetlb pages the fault path may take (default 0). */
  readonly nrOvercommitHugePages: number;
  /** /sys/kernel/mm/transparent_hugepage/shmem_enabled (shmem THP); default 'never'. */
  readonly shmemEnabled: ShmemHuge;
  /** memory_block_size_bytes() in pages (memory hotplug's unit); default 1024. */
  readonly memoryBlockPages: number;
  /** The CMA areas declared at boot, named. */
  readonly cma: readonly ResolvedCmaArea[];
  readonly onStep: ((task: Task, step: number) => void) | undefined;
  readonly footprints: FootprintLog | null;
  readonly parts: KernelParts;
}

/** A CMA area of a resolved configuration. */
export interface ResolvedCmaArea {
  readonly name: string;
  readonly base: number;
  readonly pages: number;
}

/** The default `memoryBlockPages`: MAX_ORDER_NR_PAGES (4 MiB). */
export const DEFAULT_MEMORY_BLOCK_PAGES = 1024;

/** CPUs per node when neither `cpusPerNode` nor a node's `cpus` says. */
export const DEFAULT_CPUS_PER_NODE = 2;
/** The default step limit of a kernel run (the runtime's own default is 100 million). */
export const DEFAULT_MAX_STEPS = 10_000_000;

const HOOK_KEYS = ['onStep', 'parts', 'footprints'] as const;

function invalid(message: string): MmsimError {
  return new MmsimError('INVALID_CONFIG', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `nodes[1].pages` from zod's path. */
function pathString(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/** The field names allowed at an object path, for "is not a known field" messages. */
function knownKeys(path: ReadonlyArray<string | number>): string[] {
  const [head] = path;
  if (path.length === 0) return [...Object.keys(kernelConfigSchema.shape), ...HOOK_KEYS];
  if (head === 'nodes' && path.length > 2) return ['accessFactor', 'copyFactor'];
  if (head === 'nodes') return ['pages', 'hugetlbPages', 'cpus', 'movablePages', 'memory'];
  if (head === 'nodes') return ['pages', 'hugetlbPages', 'cpus', 'memory'];
  if (head === 'costs') return Object.keys(kernelConfigSchema.shape.costs.unwrap().shape);
  if (head === 'strategy') return ['kind', 'depth', 'steps', 'token'];
  if (head === 'dependencyChecking') return ['lockClass'];
  if (head === 'faults') return ['probability', 'calls'];
  return [];
}

function formatIssue(issue: ZodIssue): string {
  const at = pathString(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(issue.path).join(', ');
    return issue.keys
      .map((key) => `${at === '' ? key : `${at}.${key}`} is not a known field (known: ${known})`)
      .join('; ');
  }
  if (issue.code === 'invalid_type' && issue.received === 'undefined') {
    return `${at} is missing: it ${issue.message}`;
  }
  return `${at === '' ? 'config' : at} ${issue.message}`;
}

/** The CPU layout: each node's `cpus`, else `cpusPerNode`, else 2; node 0's CPUs first. */
function layoutCpus(data: KernelConfigData): { nodes: ResolvedNode[]; cpuNodes: number[] } {
  const perNode = data.cpusPerNode ?? DEFAULT_CPUS_PER_NODE;
  const nodes: ResolvedNode[] = [];
  const cpuNodes: number[] = [];
  data.nodes.forEach((node, nid) => {
    const cpus = node.cpus ?? perNode;
    const hugetlbPages = node.hugetlbPages ?? 0;
    // Each hugetlb page takes 512 aligned pages of the node; node 0 also holds the zero page.
    const chunks =
      Math.floor(node.pages / HPAGE_PMD_NR) - (nid === 0 && node.pages >= HPAGE_PMD_NR ? 1 : 0);
    if (hugetlbPages > chunks) {
      throw invalid(
        `nodes[${nid}].hugetlbPages must be at most ${Math.max(0, chunks)}: each hugetlb page takes ${HPAGE_PMD_NR} aligned pages of the node's ${node.pages}${nid === 0 ? ', and node 0 holds the zero page' : ''}`,
      );
    }
    const movablePages = node.movablePages ?? 0;
    if (movablePages > node.pages - 1) {
      throw invalid(
        `nodes[${nid}].movablePages must be at most ${node.pages - 1}: the node keeps at least one ZONE_NORMAL page`,
      );
    }
    nodes.push({
      pages: node.pages,
      hugetlbPages,
      cpus,
      ...(movablePages > 0 ? { movablePages } : {}),
      accessFactor: node.memory?.accessFactor ?? 1,
      copyFactor: node.memory?.copyFactor ?? 1,
    });
    for (let i = 0; i < cpus; i++) cpuNodes.push(nid);
  });
  const frames = nodes.reduce((sum, n) => sum + n.pages, 0);
  if (frames > MAX_MACHINE_PAGES) {
    throw invalid(
      `nodes: the machine has ${frames} pages in all; at most ${MAX_MACHINE_PAGES} (MAX_MACHINE_PAGES) are modelled`,
    );
  }
  if (cpuNodes.length === 0) {
    throw invalid('nodes: the machine has no CPU (every node has cpus: 0); give one node a CPU');
  }
  return { nodes, cpuNodes };
}

/**
 * Validates a kernel configuration and fills in the defaults. A bad value throws an
 * `MmsimError('INVALID_CONFIG')` naming the field path and why (`nodes[1].pages must be a
 * positive integer ...`); several problems are reported together, separated by `; `.
 * Nothing is built here.
 */
export function resolveKernelConfig(config: KernelConfig): ResolvedKernelConfig {
  if (!isRecord(config)) throw invalid('config must be an object { nodes: [{ pages }], ... }');
  const { onStep, parts, strategy, footprints, ...rest } = config as KernelConfig &
    Record<string, unknown>;
  // A variant value (defineVariant) is checked by @mmsim/migrate; the schema reads names.
  let variantValue: MigrateVariant | null = null;
  if (isRecord(rest.variant)) {
    try {
      variantValue = resolveVariant(rest.variant as unknown as MigrateVariant);
    } catch (error) {
      throw error instanceof MmsimError ? invalid(error.message) : error;
    }
    delete rest.variant;
  }
  const customStrategy =
    isRecord(strategy) && typeof (strategy as { choose?: unknown }).choose === 'function';
  const data: Record<string, unknown> = { ...rest };
  if (strategy !== undefined && !customStrategy) data.strategy = strategy;
  const parsed = kernelConfigSchema.safeParse(data);
  if (!parsed.success) {
    throw invalid(parsed.error.issues.map(formatIssue).join('; '));
  }
  if (onStep !== undefined && typeof onStep !== 'function') {
    throw invalid(`onStep must be a function (task, step) => void, got ${typeof onStep}`);
  }
  if (footprints != null && !(footprints instanceof FootprintLog)) {
    throw invalid('footprints must be a FootprintLog (@mmsim/runtime) or null');
  }
  const resolvedParts = checkParts(parts);
  const d = parsed.data;
  const { nodes, cpuNodes } = layoutCpus(d);
  if (cpuNodes.length > 4096) {
    throw invalid(`the machine has ${cpuNodes.length} CPUs; the runtime models at most 4096`);
  }
  let costs: CostModel;
  try {
    // A named profile (cost-profiles.ts of @mmsim/runtime) under the costs given one by one.
    costs = resolveCosts(
      d.costProfile === undefined ? d.costs : { ...costProfile(d.costProfile).costs, ...d.costs },
    );
  } catch (error) {
    throw error instanceof MmsimError ? invalid(error.message) : error;
  }
  if (d.distances !== undefined) {
    const problem = checkNodeDistances(d.distances, nodes.length);
    if (problem !== null) throw invalid(problem);
  }
  const distances =
    d.distances ??
    nodes.map((_, a) => nodes.map((__, b) => (a === b ? LOCAL_DISTANCE : REMOTE_DISTANCE)));
  const dc = d.dependencyChecking ?? false;
  return {
    nodes,
    cpuNodes,
    distances,
    variant: variantValue ?? ((d.variant ?? 'v6.3') as VariantName),
    costs,
    seed: d.seed ?? 1,
    strategy: customStrategy
      ? (strategy as StrategySpec)
      : ((d.strategy ?? 'in-order') as StrategySpec),
    maxSteps: d.maxSteps ?? DEFAULT_MAX_STEPS,
    meta: d.meta ?? '',
    dependencyChecking:
      dc === false
        ? null
        : { lockClass: dc === true ? 'page-cache-index' : (dc.lockClass ?? 'page-cache-index') },
    pageLockUnfairness: d.pageLockUnfairness,
    faults: (d.faults ?? {}) as Record<string, FaultSpec>,
    zeroPage: d.zeroPage ?? true,
    thpMigrationSupported: d.thpMigrationSupported ?? true,
    hugepageMigrationSupported: d.hugepageMigrationSupported ?? true,
    nrOvercommitHugePages: d.nrOvercommitHugePages ?? 0,
    shmemEnabled: d.shmemEnabled ?? 'never',
    memoryBlockPages: d.memoryBlockPages ?? DEFAULT_MEMORY_BLOCK_PAGES,
    cma: (d.cma ?? []).map((a, i) => ({
      name: a.name ?? (i === 0 ? 'reserved' : `cma${i}`),
      base: a.base,
      pages: a.pages,
    })),
    onStep,
    footprints: footprints ?? null,
    parts: resolvedParts,
  };
}

/** The variant names a configuration accepts. */
export const KERNEL_VARIANT_NAMES: readonly VariantName[] = VARIANT_NAMES;
