import { type AttachedDriver, BUILTIN_DRIVERS } from '@mmsim/driver';
import {
  DEFAULT_CPUS_PER_NODE,
  type KernelConfig,
  kernelConfigSchema,
  touchPages,
} from '@mmsim/kernel';
import {
  MIGRATE_MODE_NAMES,
  MIGRATE_REASON_ENUM_NAMES,
  type MigrateMode,
  type MigrateReason,
} from '@mmsim/migrate';
import { MADV_MERGEABLE, PAGE_SIZE } from '@mmsim/rmap';
import {
  compactMemory,
  directCompaction,
  givenFolios,
  kcompactd,
  kernelDemotionTargets,
  ksmd,
  kswapdDemote,
  longtermPin,
  mappedFolios,
  migrator,
  NumaBalancing,
  type Scenario,
  type ScenarioHistory,
  taskNumaWork,
  userTask,
} from '@mmsim/scenarios';
import { z } from 'zod';
import { MAX_ACTORS, MAX_PROCESS_PAGES, MAX_PROCESSES } from './limits.js';
import { count, name } from './scenario-fields.js';
import {
  cmaAllocSchema,
  hotplugCmaActor,
  hotplugCmaActorProblem,
  offlinePagesSchema,
} from './scenario-hotplug-cma.js';
import { programActor, programActorProblem, programActorSchema } from './scenario-program.js';
import { DATA_SCENARIO_STRATEGY } from './version.js';

/** Every operation of the built-in drivers (which driver has which is checked per actor). */
const DRIVER_OPERATIONS = ['inflate', 'deflate', 'zs_malloc', 'zs_free', 'zs_compact'] as const;

/** A process of a scenario file: an anonymous private mapping it touches at set-up. */
const processSchema = z
  .object({
    name: name.describe('Name of the process (its comm), unique in the file; actors name it.'),
    pages: count('a number of 4 KiB pages', 1, 1 << 22).describe(
      `Pages of its anonymous mapping, touched at set-up; all processes together at most ${MAX_PROCESS_PAGES} and no more than the machine's memory.`,
    ),
    mergeable: z
      .boolean()
      .optional()
      .describe(
        'madvise(MADV_MERGEABLE) on its mapping after the set-up touch, for a ksmd actor (page i of every process holds the same word, so equal-sized processes merge); default false.',
      ),
  })
  .strict()
  .describe('A process: an anonymous private mapping it touches at set-up.');

/** `user-task`: a thread of a process reading and writing its pages (`userTask` of @mmsim/scenarios). */
const userTaskSchema = z
  .object({
    type: z.literal('user-task').describe("A thread reading and writing its process's pages."),
    name: name.optional().describe("The task's comm; default user<index>."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    process: name.describe('The process whose pages it accesses.'),
    accesses: count('a number of accesses', 1, 1e9).describe('Loads and stores it makes.'),
    pattern: z
      .enum(['sequential', 'random', 'hot-set'])
      .optional()
      .describe('Which pages it picks: sequential, random or hot-set; default random.'),
    writeRatio: z
      .number()
      .min(0, { message: 'must be in [0, 1]' })
      .max(1, { message: 'must be in [0, 1]' })
      .optional()
      .describe('Probability that an access is a store; default 0.5.'),
    computeNs: count('virtual ns between two accesses', 0, 1e9)
      .optional()
      .describe('Virtual ns of computation between two accesses; default 0.'),
  })
  .strict();

/** `migrator`: move_pages-style migrations of a process's pages (`migrator` of @mmsim/scenarios). */
const migratorSchema = z
  .object({
    type: z
      .literal('migrator')
      .describe("move_pages-style migrate_pages calls of its process's pages."),
    name: name.optional().describe("The task's comm; default migrate<index>."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    process: name.optional().describe('The process whose pages it migrates (this, or driver).'),
    driver: name
      .optional()
      .describe(
        "The driver (a name of the file's drivers) whose pages it migrates, instead of a process's.",
      ),
    mode: z.enum(MIGRATE_MODE_NAMES).describe('The migrate mode of every call.'),
    reason: z.enum(MIGRATE_REASON_ENUM_NAMES).describe('The migrate reason of every call.'),
    rounds: count('a number of migrate_pages calls', 1, 1e6).describe('migrate_pages calls.'),
    targets: z
      .array(count('a node id', 0, 63))
      .min(1, { message: 'must list at least one node' })
      .describe('Target node of each round, cycled through; nodes of the machine.'),
    order: z
      .enum(['ascending', 'descending'])
      .optional()
      .describe('Order of the pages on the migration list; default ascending.'),
  })
  .strict();

/** `ksmd`: the KSM daemon merging the mergeable processes' pages (`ksmd` of @mmsim/scenarios). */
const ksmdSchema = z
  .object({
    type: z.literal('ksmd').describe('The KSM daemon: ksm_do_scan batches with a sleep between.'),
    name: name.optional().describe("The task's comm; default ksmd."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    batches: count('a number of ksm_do_scan batches', 1, 1e6).describe('ksm_do_scan calls.'),
    pagesToScan: count('pages per batch', 1, 1e6)
      .optional()
      .describe('/sys/kernel/mm/ksm/pages_to_scan; default 100.'),
    sleepNs: count('virtual ns', 0, 1e12)
      .optional()
      .describe('Virtual ns between two batches (sleep_millisecs); default 20 ms.'),
  })
  .strict();

/** `kcompactd`: a node's compaction daemon (`kcompactd` of @mmsim/callers, mm/compaction.c 6.3). */
const kcompactdSchema = z
  .object({
    type: z
      .literal('kcompactd')
      .describe(
        "A node's compaction daemon: woken by failed order > 0 allocations, compacts MIGRATE_SYNC_LIGHT.",
      ),
    name: name.optional().describe("The task's comm; default kcompactd<node>."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    node: count('a node id', 0, 63).describe('The node it compacts.'),
    timeouts: count('a number of timeouts', 1, 1e6).describe(
      'Its 500 ms timeouts (wait_event_freezable_timeout) before it ends.',
    ),
  })
  .strict();

/** `compact-memory`: writes to /proc/sys/vm/compact_memory (`compactMemory` of @mmsim/callers). */
const compactMemorySchema = z
  .object({
    type: z
      .literal('compact-memory')
      .describe(
        'echo 1 > /proc/sys/vm/compact_memory: compact_nodes, each node whole, MIGRATE_SYNC.',
      ),
    name: name.optional().describe("The task's comm; default compact_memory."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    writes: count('a number of writes', 1, 1e6)
      .optional()
      .describe('Writes to the sysctl; default 1.'),
    nodes: z
      .array(count('a node id', 0, 63))
      .min(1, { message: 'must list at least one node' })
      .optional()
      .describe('The nodes to compact; default every node of the machine.'),
  })
  .strict();

/** `direct-compaction`: an order > 0 allocation that compacts directly (`directCompaction` of @mmsim/callers). */
const directCompactionSchema = z
  .object({
    type: z
      .literal('direct-compaction')
      .describe(
        'An order > 0 allocation that falls into direct compaction: MIGRATE_ASYNC, then MIGRATE_SYNC_LIGHT.',
      ),
    name: name.optional().describe("The task's comm; default alloc<index>."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    node: count('a node id', 0, 63).describe('The node of the allocation (__GFP_THISNODE).'),
    order: count('an allocation order', 1, 10).describe('The order of the allocation.'),
    allocations: count('a number of allocations', 1, 1e6)
      .optional()
      .describe('Allocations to make (each freed before the next); default 1.'),
  })
  .strict();

/** `driver-op`: one of a driver's own operations (`AttachedDriver.actor` of @mmsim/driver). */
const driverOpSchema = z
  .object({
    type: z
      .literal('driver-op')
      .describe(
        "One of a driver's operations: inflate / deflate, zs_malloc / zs_free / zs_compact.",
      ),
    name: name.optional().describe("The task's comm; default <driver>-<operation>."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    driver: name.describe("The driver (a name of the file's drivers) whose operation it runs."),
    operation: z
      .enum(DRIVER_OPERATIONS)
      .describe(
        "The operation: virtio-balloon's inflate / deflate, zsmalloc's zs_malloc / zs_free / zs_compact.",
      ),
    arg: count('a count', 1, 1e6)
      .optional()
      .describe(
        'Pages to inflate or deflate, objects to allocate or free, compaction rounds; default 1.',
      ),
  })
  .strict();

/** `longterm-pin`: a driver's FOLL_LONGTERM pin of a process's pages (`longtermPin` of @mmsim/callers). */
const longtermPinSchema = z
  .object({
    type: z
      .literal('longterm-pin')
      .describe(
        "A driver pins a process's pages with pin_user_pages(FOLL_LONGTERM): pages in ZONE_MOVABLE or CMA are migrated first (MIGRATE_SYNC, MR_LONGTERM_PIN).",
      ),
    name: name.optional().describe("The task's comm; default pin<index>."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    process: name.describe('The process whose pages it pins.'),
    pages: count('a number of pages', 1, 1 << 22)
      .optional()
      .describe("Pages pinned from the start of the process's mapping; default all of them."),
    write: z.boolean().optional().describe('A writable pin (FOLL_WRITE); default true.'),
    via: z
      .enum(['pin_user_pages', 'ib_umem_get'])
      .optional()
      .describe(
        'pin_user_pages (default) or ib_umem_get (an RDMA memory registration, the same pin in calls of 512 pages).',
      ),
    holdSteps: count('a number of scheduling points', 0, 1e9)
      .optional()
      .describe('Scheduling points the pin is held before unpin_user_pages; default: to the end.'),
  })
  .strict();

/**
 * `task-numa-work`: NUMA-balancing scanner passes over a process (`taskNumaWork` of
 * @mmsim/callers, kernel/sched/fair.c 6.3) with NUMA balancing installed in the given mode;
 * the file's user tasks then take the hinting faults. Mode 2 promotes from a CPU-less tier.
 */
const taskNumaWorkSchema = z
  .object({
    type: z
      .literal('task-numa-work')
      .describe(
        'NUMA balancing (kernel.numa_balancing = mode) and task_numa_work passes marking a process PROT_NONE; its user tasks then take hinting faults.',
      ),
    name: name.optional().describe("The task's comm; default task_numa_work."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    process: name.describe('The process whose mm it scans.'),
    mode: count('a numa_balancing mode', 1, 3)
      .optional()
      .describe(
        'kernel.numa_balancing: 1 NUMA_BALANCING_NORMAL, 2 NUMA_BALANCING_MEMORY_TIERING (promotion), 3 both; default 1. Every task-numa-work actor of a file has the same mode.',
      ),
    passes: count('a number of passes', 1, 1e6)
      .optional()
      .describe('task_numa_work passes, numa_balancing_scan_period_min_ms apart; default 1.'),
    scanDelayMs: count('a number of milliseconds', 0, 1e6)
      .optional()
      .describe('numa_balancing_scan_delay_ms: virtual time before the first pass; default 1000.'),
  })
  .strict();

/**
 * `kswapd-demote`: reclaim of a node that demotes to the tier below (`kswapdDemote` of
 * @mmsim/callers, mm/vmscan.c demote_folio_list 6.3), targets from the machine's distances.
 */
const kswapdDemoteSchema = z
  .object({
    type: z
      .literal('kswapd-demote')
      .describe(
        "A node's reclaim demoting its coldest folios to the nearest CPU-less node (demote_folio_list, MIGRATE_ASYNC, MR_DEMOTION).",
      ),
    name: name.optional().describe("The task's comm; default kswapd<node>."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    node: count('a node id', 0, 63).describe('The node it reclaims (demotes from).'),
    batch: count('a number of folios', 1, 1 << 20)
      .optional()
      .describe('Folios taken from the tail of the inactive lists per round; default 32.'),
    rounds: count('a number of rounds', 1, 1e6).optional().describe('Rounds; default 1.'),
    direct: z
      .boolean()
      .optional()
      .describe(
        'Direct reclaim (pgdemote_direct) instead of kswapd (pgdemote_kswapd); default false.',
      ),
  })
  .strict();

const actorSchema = z.discriminatedUnion(
  'type',
  [
    userTaskSchema,
    migratorSchema,
    driverOpSchema,
    programActorSchema,
    ksmdSchema,
    kcompactdSchema,
    compactMemorySchema,
    directCompactionSchema,
    longtermPinSchema,
    offlinePagesSchema,
    cmaAllocSchema,
    taskNumaWorkSchema,
    kswapdDemoteSchema,
  ],
  {
    errorMap: (issue, ctx) =>
      issue.code === 'invalid_union_discriminator'
        ? {
            message:
              "must be one of 'user-task', 'migrator', 'driver-op', 'program', 'ksmd', 'kcompactd', 'compact-memory', 'direct-compaction', 'longterm-pin', 'offline-pages', 'cma-alloc', 'task-numa-work', 'kswapd-demote'",
          }
        : { message: ctx.defaultError },
  },
);

/** Pages of a movable-page driver (virtio-balloon or zsmalloc of @mmsim/driver), populated at set-up. */
const driverSchema = z
  .object({
    driver: z
      .enum(['virtio-balloon', 'zsmalloc'])
      .describe('Which driver: virtio-balloon or zsmalloc.'),
    name: name
      .optional()
      .describe('Its name in the file (actors name it), unique; default the driver.'),
    node: count('a node id', 0, 63).describe('The node its pages start on.'),
    pages: count('a number of pages', 1, 1 << 16).describe(
      'Pages it holds at set-up (zsmalloc rounds up to whole zspages).',
    ),
  })
  .strict()
  .describe("A movable-page driver's pages, populated at set-up.");

/** A scenario written as data: its machine, its processes and its actors. */
export const actorScenarioSchema = z
  .object({
    $schema: z.string().optional().describe('The JSON Schema of the file, for editors.'),
    name: name.describe('Name of the scenario.'),
    title: z.string().optional().describe('One line shown by mmsim run.'),
    description: z.string().optional().describe('What the scenario shows.'),
    history: z
      .object({
        deadlocksIn: z
          .array(z.string())
          .describe('Variants (built-in names or variant-file names) that have the bug.'),
        fixedIn: z.array(z.string()).describe('Variants in which exploration finds nothing.'),
      })
      .strict()
      .optional()
      .describe('What mmsim check should find per variant (optional).'),
    config: kernelConfigSchema,
    processes: z
      .array(processSchema)
      .max(MAX_PROCESSES, { message: `must list at most ${MAX_PROCESSES} processes` })
      .default([])
      .describe(`The processes (up to ${MAX_PROCESSES}; at least one process or one driver).`),
    drivers: z
      .array(driverSchema)
      .max(MAX_PROCESSES, { message: `must list at most ${MAX_PROCESSES} drivers` })
      .optional()
      .describe("Movable-page drivers whose pages the file's migrators and driver operations use."),
    actors: z
      .array(actorSchema)
      .min(1, { message: 'must list at least one actor' })
      .max(MAX_ACTORS, { message: `must list at most ${MAX_ACTORS} actors` })
      .describe(
        `The actors (1 to ${MAX_ACTORS}): user-task, migrator, driver-op, program, ksmd, kcompactd, compact-memory, direct-compaction, longterm-pin, offline-pages, cma-alloc, task-numa-work and kswapd-demote.`,
      ),
  })
  .strict();

export type ActorScenarioFile = z.infer<typeof actorScenarioSchema>;

/**
 * The cross-field rules zod does not see, checked before anything runs: process names
 * unique; the processes' pages fit the machine's memory and `MAX_PROCESS_PAGES`; every actor names a process of the file and a CPU of the machine;
 * a migrator's targets are nodes of the machine. Returns `[field, message]` of the first
 * problem, or null.
 */
export function actorScenarioProblem(file: ActorScenarioFile): [string, string] | null {
  const names = new Set<string>();
  const nodes = file.config.nodes;
  const cpus = nodes.reduce(
    (sum, n) => sum + (n.cpus ?? file.config.cpusPerNode ?? DEFAULT_CPUS_PER_NODE),
    0,
  );
  // The set-up task touches every page on CPU 0: node 0 first, then the kernel falls back to
  // the other nodes (a legal state), so what must fit is the machine less the zero page and
  // the hugetlb reservations.
  const free = nodes.reduce((sum, n) => sum + n.pages - (n.hugetlbPages ?? 0) * 512, 0) - 1;
  const drivers = new Map<string, string>();
  for (const [i, d] of (file.drivers ?? []).entries()) {
    const dn = d.name ?? d.driver;
    if (drivers.has(dn)) return [`drivers[${i}].name`, `"${dn}" is used twice`];
    drivers.set(dn, d.driver);
    if (d.node >= nodes.length) {
      return [
        `drivers[${i}].node`,
        `is node ${d.node}, but the machine has ${nodes.length} node${nodes.length === 1 ? '' : 's'} (0 to ${nodes.length - 1})`,
      ];
    }
    if (d.pages > (nodes[d.node]?.pages ?? 0) - 1) {
      return [`drivers[${i}].pages`, `${d.pages} pages do not fit on node ${d.node}`];
    }
  }
  const programs = file.actors.some((a) => a.type === 'program');
  if (file.processes.length === 0 && drivers.size === 0 && !programs) {
    return ['processes', 'must list at least one process (or a driver in drivers)'];
  }
  let pages = 0;
  for (const [i, p] of file.processes.entries()) {
    if (names.has(p.name)) return [`processes[${i}].name`, `"${p.name}" is used twice`];
    names.add(p.name);
    pages += p.pages;
    if (pages > MAX_PROCESS_PAGES) {
      return [
        `processes[${i}].pages`,
        `brings the processes to ${pages} pages in all; at most ${MAX_PROCESS_PAGES} are modelled`,
      ];
    }
    if (pages > free) {
      return [
        `processes[${i}].pages`,
        `${p.name} does not fit in memory: the processes' ${pages} pages are more than the machine's ${free} free pages (config.nodes, less the zero page and hugetlb pages)`,
      ];
    }
  }
  for (const [i, a] of file.actors.entries()) {
    if (a.type === 'program') {
      const problem = programActorProblem(a, i, cpus, nodes.length);
      if (problem !== null) return problem;
      continue;
    }
    if (a.cpu >= cpus) {
      return [
        `actors[${i}].cpu`,
        `is ${a.cpu}, but the machine has ${cpus} CPU${cpus === 1 ? '' : 's'} (0 to ${cpus - 1})`,
      ];
    }
    if (a.type === 'kcompactd' || a.type === 'direct-compaction') {
      if (a.node >= nodes.length) {
        return [
          `actors[${i}].node`,
          `is node ${a.node}, but the machine has ${nodes.length} node${nodes.length === 1 ? '' : 's'} (0 to ${nodes.length - 1})`,
        ];
      }
    }
    if (a.type === 'compact-memory' && a.nodes !== undefined) {
      const j = a.nodes.findIndex((t) => t >= nodes.length);
      if (j >= 0) {
        return [
          `actors[${i}].nodes[${j}]`,
          `is node ${a.nodes[j]}, but the machine has ${nodes.length} node${nodes.length === 1 ? '' : 's'} (0 to ${nodes.length - 1})`,
        ];
      }
    }
    if (a.type === 'offline-pages' || a.type === 'cma-alloc') {
      const problem = hotplugCmaActorProblem(a, i, file.config);
      if (problem !== null) return problem;
    }
    if (a.type === 'migrator') {
      const j = a.targets.findIndex((t) => t >= nodes.length);
      if (j >= 0) {
        return [
          `actors[${i}].targets[${j}]`,
          `is node ${a.targets[j]}, but the machine has ${nodes.length} node${nodes.length === 1 ? '' : 's'} (0 to ${nodes.length - 1})`,
        ];
      }
    }
    if (a.type === 'kswapd-demote' && a.node >= nodes.length) {
      return [
        `actors[${i}].node`,
        `is node ${a.node}, but the machine has ${nodes.length} node${nodes.length === 1 ? '' : 's'} (0 to ${nodes.length - 1})`,
      ];
    }
    if (a.type === 'task-numa-work') {
      // The sysctls are the machine's: every task-numa-work actor must agree on them.
      const first = file.actors.find((b) => b.type === 'task-numa-work');
      if (first !== undefined && first.type === 'task-numa-work') {
        if ((first.mode ?? 1) !== (a.mode ?? 1)) {
          return [
            `actors[${i}].mode`,
            `is ${a.mode ?? 1}, but an earlier task-numa-work actor has mode ${first.mode ?? 1}: the machine has one kernel.numa_balancing`,
          ];
        }
        if (first.scanDelayMs !== a.scanDelayMs) {
          return [
            `actors[${i}].scanDelayMs`,
            'differs from an earlier task-numa-work actor: the machine has one numa_balancing_scan_delay_ms',
          ];
        }
      }
    }
  }
  for (const [i, a] of file.actors.entries()) {
    if (a.type === 'program') continue;
    // The compaction actors work on a node's memory, not on a process's.
    if (a.type === 'kcompactd' || a.type === 'compact-memory' || a.type === 'direct-compaction') {
      continue;
    }
    // So do memory hotplug and CMA.
    if (a.type === 'offline-pages' || a.type === 'cma-alloc') continue;
    if (a.type === 'driver-op' || (a.type === 'migrator' && a.driver !== undefined)) {
      const kind = drivers.get(a.driver as string);
      if (kind === undefined) {
        return [
          `actors[${i}].driver`,
          `"${a.driver}" is not one of the file's drivers (${[...drivers.keys()].join(', ') || 'none'})`,
        ];
      }
      if (a.type === 'migrator' && a.process !== undefined) {
        return [`actors[${i}]`, 'names both a process and a driver: give one'];
      }
      if (
        a.type === 'driver-op' &&
        !(a.operation in (BUILTIN_DRIVERS[kind as 'zsmalloc'].spec.operations ?? {}))
      ) {
        return [`actors[${i}].operation`, `${kind} has no operation ${a.operation}`];
      }
      continue;
    }
    if (a.type === 'ksmd') continue;
    if (a.type === 'kswapd-demote') continue;
    if (a.process === undefined) {
      return [`actors[${i}].process`, 'must name a process (or, for a migrator, a driver)'];
    }
    if (!names.has(a.process)) {
      return [
        `actors[${i}].process`,
        `"${a.process}" is not one of the file's processes (${[...names].join(', ')})`,
      ];
    }
  }
  for (const [i, a] of file.actors.entries()) {
    if (a.type !== 'longterm-pin' || a.pages === undefined) continue;
    const p = file.processes.find((q) => q.name === a.process);
    if (p !== undefined && a.pages > p.pages) {
      return [`actors[${i}].pages`, `${a.pages} pages, but ${p.name} maps only ${p.pages}`];
    }
  }
  return null;
}

/**
 * Builds a `Scenario` from a validated file: each process maps its pages and touches them
 * in the set-up task (on CPU 0, so they start on node 0), then the actors run.
 */
export function scenarioFromActors(file: ActorScenarioFile): Scenario {
  return {
    name: file.name,
    title: file.title ?? `${file.name} (from a scenario file)`,
    description: file.description ?? '',
    sources: [],
    ...(file.history === undefined ? {} : { history: file.history as ScenarioHistory }),
    // Actors interleave unless the file names a schedule (see DATA_SCENARIO_STRATEGY).
    config: { strategy: DATA_SCENARIO_STRATEGY, ...file.config } as KernelConfig,
    build(k) {
      const procs = new Map(
        file.processes.map((p) => {
          const mm = k.createProcess(p.name);
          return [
            p.name,
            { mm, addr: k.vm.mmap(mm, { length: p.pages * PAGE_SIZE }), pages: p.pages },
          ];
        }),
      );
      const attached = new Map(
        (file.drivers ?? []).map((d) => {
          const dn = d.name ?? d.driver;
          return [dn, { spec: d, driver: BUILTIN_DRIVERS[d.driver].attach(k, { name: dn }) }];
        }),
      );
      const driverOf = (n: string) =>
        (attached.get(n) as { driver: AttachedDriver<unknown> }).driver;
      const proc = (n: string) =>
        procs.get(n) as { mm: ReturnType<typeof k.createProcess>; addr: number; pages: number };
      // One NUMA balancing for the machine, in the mode of the file's task-numa-work actors.
      const numaWork = file.actors.find((a) => a.type === 'task-numa-work');
      const nb =
        numaWork === undefined || numaWork.type !== 'task-numa-work'
          ? null
          : new NumaBalancing(k, {
              mode: numaWork.mode ?? 1,
              ...(numaWork.scanDelayMs === undefined ? {} : { scanDelayMs: numaWork.scanDelayMs }),
            }).install();
      return {
        *setup() {
          for (const p of procs.values()) yield* touchPages(k, p.mm, p.addr, p.pages, (i) => i + 1);
          for (const p of file.processes) {
            if (p.mergeable !== true) continue;
            const { mm, addr, pages } = proc(p.name);
            yield* k.vm.ksmMadvise(mm, addr, pages * PAGE_SIZE, MADV_MERGEABLE);
          }
          for (const { spec, driver } of attached.values()) driver.populate(spec.node, spec.pages);
        },
        actors: file.actors.map((a, i) => {
          if (a.type === 'program') return programActor(k, a, i);
          if (a.type === 'ksmd') {
            return ksmd(k, {
              cpu: a.cpu,
              batches: a.batches,
              ...(a.name === undefined ? {} : { name: a.name }),
              ...(a.pagesToScan === undefined ? {} : { pagesToScan: a.pagesToScan }),
              ...(a.sleepNs === undefined ? {} : { sleepNs: a.sleepNs }),
            });
          }
          if (a.type === 'driver-op') {
            return driverOf(a.driver).actor(a.operation, {
              cpu: a.cpu,
              ...(a.name === undefined ? {} : { name: a.name }),
              ...(a.arg === undefined ? {} : { arg: a.arg }),
            });
          }
          if (a.type === 'kcompactd') {
            return kcompactd(k, {
              cpu: a.cpu,
              nid: a.node,
              timeouts: a.timeouts,
              ...(a.name === undefined ? {} : { name: a.name }),
            });
          }
          if (a.type === 'compact-memory') {
            return compactMemory(k, {
              cpu: a.cpu,
              ...(a.name === undefined ? {} : { name: a.name }),
              ...(a.writes === undefined ? {} : { writes: a.writes }),
              ...(a.nodes === undefined ? {} : { nodes: a.nodes }),
            });
          }
          if (a.type === 'direct-compaction') {
            return directCompaction(k, {
              name: a.name ?? `alloc${i}`,
              cpu: a.cpu,
              nid: a.node,
              order: a.order,
              ...(a.allocations === undefined ? {} : { allocations: a.allocations }),
            });
          }
          if (a.type === 'offline-pages' || a.type === 'cma-alloc') return hotplugCmaActor(k, a);
          if (a.type === 'kswapd-demote') {
            return kswapdDemote(k, {
              cpu: a.cpu,
              nid: a.node,
              targets: kernelDemotionTargets(k),
              ...(a.name === undefined ? {} : { name: a.name }),
              ...(a.batch === undefined ? {} : { batch: a.batch }),
              ...(a.rounds === undefined ? {} : { rounds: a.rounds }),
              ...(a.direct === undefined ? {} : { direct: a.direct }),
            });
          }
          if (a.type === 'task-numa-work') {
            return taskNumaWork(nb as NumaBalancing, {
              cpu: a.cpu,
              mm: proc(a.process).mm,
              ...(a.name === undefined ? {} : { name: a.name }),
              ...(a.passes === undefined ? {} : { passes: a.passes }),
            });
          }
          if (a.type === 'migrator' && a.driver !== undefined) {
            const d = driverOf(a.driver);
            return migrator(k, {
              name: a.name ?? `migrate${i}`,
              cpu: a.cpu,
              mode: MIGRATE_MODE_NAMES.indexOf(a.mode) as MigrateMode,
              reason: MIGRATE_REASON_ENUM_NAMES.indexOf(a.reason) as MigrateReason,
              rounds: a.rounds,
              targets: a.targets,
              select: givenFolios(() => d.host.pages),
            });
          }
          const p = proc(a.process as string);
          if (a.type === 'longterm-pin') {
            return longtermPin(k, {
              name: a.name ?? `pin${i}`,
              cpu: a.cpu,
              mm: p.mm,
              addr: p.addr,
              pages: a.pages ?? p.pages,
              ...(a.write === undefined ? {} : { write: a.write }),
              ...(a.via === undefined ? {} : { via: a.via }),
              ...(a.holdSteps === undefined ? {} : { holdSteps: a.holdSteps }),
            });
          }
          if (a.type === 'user-task') {
            return userTask(k, {
              name: a.name ?? `user${i}`,
              cpu: a.cpu,
              mm: p.mm,
              addr: p.addr,
              pages: p.pages,
              accesses: a.accesses,
              ...(a.pattern === undefined ? {} : { pattern: a.pattern }),
              ...(a.writeRatio === undefined ? {} : { writeRatio: a.writeRatio }),
              ...(a.computeNs === undefined ? {} : { computeNs: a.computeNs }),
            });
          }
          return migrator(k, {
            name: a.name ?? `migrate${i}`,
            cpu: a.cpu,
            mode: MIGRATE_MODE_NAMES.indexOf(a.mode) as MigrateMode,
            reason: MIGRATE_REASON_ENUM_NAMES.indexOf(a.reason) as MigrateReason,
            rounds: a.rounds,
            targets: a.targets,
            select: mappedFolios(k, p.mm, p.addr, p.pages, a.order ?? 'ascending'),
          });
        }),
      };
    },
  };
}
