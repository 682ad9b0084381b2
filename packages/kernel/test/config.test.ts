import { costProfile, DEFAULT_COSTS, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  createKernel,
  DEFAULT_MAX_STEPS,
  type KernelConfig,
  kernelConfigJsonSchema,
  resolveKernelConfig,
} from '../src/index.js';

const NODE = { pages: 1024 };

/** The error `createKernel(config)` throws (it must throw). */
function errorOf(config: unknown): MmsimError {
  try {
    createKernel(config as KernelConfig);
  } catch (error) {
    expect(error).toBeInstanceOf(MmsimError);
    return error as MmsimError;
  }
  throw new Error(`createKernel accepted ${JSON.stringify(config)}`);
}

describe('createKernel: configuration validation', () => {
  // [what is wrong, config, the field path and the reason the message must contain]
  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', null, /^config must be an object/],
    ['no nodes', {}, /^nodes is missing: it must be an array of nodes/],
    ['no node', { nodes: [] }, /^nodes must list 1 to 64 nodes/],
    [
      'negative pages',
      { nodes: [NODE, { pages: -3 }] },
      /^nodes\[1\]\.pages must be a positive integer/,
    ],
    [
      'fractional pages',
      { nodes: [NODE, { pages: 1.5 }] },
      /^nodes\[1\]\.pages must be a positive integer/,
    ],
    [
      'pages of the wrong type',
      { nodes: [{ pages: '1024' }] },
      /^nodes\[0\]\.pages must be a positive integer/,
    ],
    [
      'too many hugetlb pages',
      { nodes: [{ pages: 1024, hugetlbPages: 3 }] },
      /^nodes\[0\]\.hugetlbPages must be at most 1: each hugetlb page takes 512/,
    ],
    [
      'negative hugetlb pages',
      { nodes: [{ pages: 1024, hugetlbPages: -1 }] },
      /^nodes\[0\]\.hugetlbPages must be/,
    ],
    ['no CPU at all', { nodes: [{ pages: 1024, cpus: 0 }] }, /the machine has no CPU/],
    [
      'unknown node field',
      { nodes: [{ pages: 1024, color: 'red' }] },
      /^nodes\[0\]\.color is not a known field \(known: pages, hugetlbPages, cpus, movablePages, memory\)/,
    ],
    [
      'cpusPerNode 0',
      { nodes: [NODE], cpusPerNode: 0 },
      /^cpusPerNode must be a number of CPUs per node/,
    ],
    [
      'unknown variant',
      { nodes: [NODE], variant: 'v5.15' },
      /^variant must be one of 'v6\.2', 'rfc-2022', 'v6\.3-rc1', 'v6\.3', 'v6\.4', 'v6\.10', 'v6\.11', 'v6\.12'/,
    ],
    [
      'negative cost',
      { nodes: [NODE], costs: { copyPage4k: -1 } },
      /^costs\.copyPage4k must be a finite number of nanoseconds >= 0/,
    ],
    [
      'unknown cost',
      { nodes: [NODE], costs: { warp: 1 } },
      /^costs\.warp is not a known field \(known: copyPage4k/,
    ],
    [
      'unknown cost profile',
      { nodes: [NODE], costProfile: 'x86-4s' },
      /^costProfile must be one of 'x86-2s', 'arm64-128'/,
    ],
    [
      'negative seed',
      { nodes: [NODE], seed: -1 },
      /^seed must be a seed \(an integer in \[0, 4294967295\]\)/,
    ],
    [
      'unknown strategy',
      { nodes: [NODE], strategy: 'chaos' },
      /^strategy must be one of 'in-order', 'lowest-clock', 'random', 'pct'/,
    ],
    [
      'PCT depth 0',
      { nodes: [NODE], strategy: { kind: 'pct', depth: 0 } },
      /^strategy\.depth must be a PCT bug depth/,
    ],
    [
      'maxSteps 0',
      { nodes: [NODE], maxSteps: 0 },
      /^maxSteps must be a number of scheduling points/,
    ],
    [
      'dependencyChecking "yes"',
      { nodes: [NODE], dependencyChecking: 'yes' },
      /^dependencyChecking must be a boolean or \{ lockClass/,
    ],
    [
      'negative unfairness',
      { nodes: [NODE], pageLockUnfairness: -1 },
      /^pageLockUnfairness must be/,
    ],
    [
      'fault probability 2',
      { nodes: [NODE], faults: { 'migrate.alloc_migration_target': { probability: 2 } } },
      /^faults\.migrate\.alloc_migration_target\.probability must be a probability in \[0, 1\]/,
    ],
    [
      'unknown fault site',
      { nodes: [NODE], faults: { nowhere: { probability: 0.5 } } },
      /^faults\.nowhere is not a fault site; known sites: migrate\.alloc_migration_target/,
    ],
    ['zeroPage "no"', { nodes: [NODE], zeroPage: 'no' }, /^zeroPage must be a boolean/],
    [
      'nrOvercommitHugePages -1',
      { nodes: [NODE], nrOvercommitHugePages: -1 },
      /^nrOvercommitHugePages must be a number of surplus 2 MiB hugetlb pages/,
    ],
    ['onStep not a function', { nodes: [NODE], onStep: 3 }, /^onStep must be a function/],
    [
      'part not a function',
      { nodes: [NODE], parts: { lru: 3 } },
      /^parts\.lru must be a factory function/,
    ],
    [
      'unknown part',
      { nodes: [NODE], parts: { mmu: () => ({}) } },
      /^parts\.mmu is not a known part \(known: pageLocks, lru, rmap, tlb, migrate\)/,
    ],
    [
      'part without the interface',
      { nodes: [NODE], parts: { lru: () => ({}) } },
      /^parts\.lru returned an object without folioIsolateLru\(\)/,
    ],
    [
      'unknown field',
      { nodes: [NODE], colour: 1 },
      /^colour is not a known field \(known: nodes, distances, cpusPerNode, variant/,
    ],
  ];
  for (const [what, config, message] of cases) {
    it(`${what}: INVALID_CONFIG naming the field and why`, () => {
      const error = errorOf(config);
      expect(error.code).toBe('INVALID_CONFIG');
      expect(error.message).toMatch(message);
    });
  }

  it('reports every problem of the data at once', () => {
    const error = errorOf({ nodes: [{ pages: 0 }], seed: 'x', variant: 'v7' });
    expect(error.message).toMatch(/nodes\[0\]\.pages must be/);
    expect(error.message).toMatch(/; variant must be one of/);
    expect(error.message).toMatch(/; seed must be a seed/);
  });

  it('builds nothing when the configuration is bad: no part factory is called', () => {
    let called = 0;
    const lru = (base: never) => {
      called++;
      return base;
    };
    errorOf({ nodes: [NODE, { pages: -1 }], parts: { lru } });
    expect(called).toBe(0);
  });

  it('fills in the defaults and lays CPUs out node by node', () => {
    const r = resolveKernelConfig({ nodes: [{ pages: 1024, cpus: 3 }, { pages: 2048 }] });
    expect(r.cpuNodes).toEqual([0, 0, 0, 1, 1]);
    expect(r.variant).toBe('v6.3');
    expect(r.seed).toBe(1);
    expect(r.strategy).toBe('in-order');
    expect(r.maxSteps).toBe(DEFAULT_MAX_STEPS);
    expect(r.dependencyChecking).toBeNull();
    expect(r.zeroPage).toBe(true);
    expect(r.nodes[1]).toEqual({
      pages: 2048,
      hugetlbPages: 0,
      cpus: 2,
      accessFactor: 1,
      copyFactor: 1,
    });
    expect(
      resolveKernelConfig({ nodes: [NODE], dependencyChecking: true }).dependencyChecking,
    ).toEqual({
      lockClass: 'page-cache-index',
    });
  });

  it('a cost profile replaces the default costs, and a cost given one by one wins over it', () => {
    const x86 = costProfile('x86-2s').costs;
    const k = createKernel({
      nodes: [{ pages: 1024 }],
      costProfile: 'x86-2s',
      costs: { copyPage4k: 900 },
    });
    expect(k.rt.costs).toEqual({ ...x86, copyPage4k: 900 });
    expect(k.rt.costs.tlbShootdownPerCpu).toBe(x86.tlbShootdownPerCpu);
    expect(x86.tlbShootdownPerCpu).not.toBe(DEFAULT_COSTS.tlbShootdownPerCpu);
  });

  it('builds the machine the configuration describes', () => {
    const k = createKernel({
      nodes: [{ pages: 1024, hugetlbPages: 1 }, { pages: 2048 }],
      cpusPerNode: 3,
      variant: 'v6.11',
      costs: { copyPage4k: 900 },
      seed: 42,
      strategy: { kind: 'pct', depth: 2 },
      dependencyChecking: { lockClass: 'folio' },
      faults: { 'migrate.alloc_migration_target': { calls: [1] } },
    });
    expect(k.nrNodes).toBe(2);
    expect(k.rt.cpus.map((c) => c.node)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(k.cpusOfNode(1)).toEqual([3, 4, 5]);
    expect(k.variant.name).toBe('v6.11');
    expect(k.rt.costs.copyPage4k).toBe(900);
    expect(k.rt.random.seed).toBe(42);
    expect(k.rt.strategy.name).toMatch(/pct/);
    expect(k.checker).not.toBeNull();
    expect(k.rt.faults.get('migrate.alloc_migration_target')?.spec).toEqual({ calls: [1] });
    expect(k.locks).toBe(k.vm.locks);
    expect(k.rmap).toBe(k.vm);
    expect(k.lruView.check()).toEqual([]);
  });

  it('hugetlb pools per node, vm.nr_overcommit_hugepages, and the sysfs and meminfo counters', () => {
    const k = createKernel({
      nodes: [{ pages: 2048, hugetlbPages: 1 }, { pages: 2048 }],
      nrOvercommitHugePages: 1,
    });
    expect(k.config.nrOvercommitHugePages).toBe(1);
    expect(k.hugetlbNodeCounters(0)).toEqual({
      nr_hugepages: 1,
      free_hugepages: 1,
      surplus_hugepages: 0,
    });
    // The pool of node 1 is empty: the fault path takes a surplus page from its buddy.
    const f = k.migrate.hugetlbAllocActive(1, { thisNode: true });
    expect(f).toBeGreaterThanOrEqual(0);
    expect(k.hugetlbNodeCounters(1)).toEqual({
      nr_hugepages: 1,
      free_hugepages: 0,
      surplus_hugepages: 1,
    });
    expect(k.hugetlbMeminfo()).toEqual({
      HugePages_Total: 2,
      HugePages_Free: 1,
      HugePages_Rsvd: 0,
      HugePages_Surp: 1,
    });
    // Over the limit now.
    expect(k.migrate.hugetlbAllocActive(1, { thisNode: true })).toBeLessThan(0);
    expect(resolveKernelConfig({ nodes: [NODE] }).nrOvercommitHugePages).toBe(0);
  });

  it('accepts a Strategy object of its own', () => {
    const k = createKernel({
      nodes: [NODE],
      strategy: { name: 'last', choose: (eligible) => eligible[eligible.length - 1]! },
    });
    expect(k.rt.strategy.name).toBe('last');
  });

  it('gives the JSON Schema of the data half of a configuration', () => {
    const schema = kernelConfigJsonSchema() as {
      definitions: {
        KernelConfig: {
          properties: Record<string, { enum?: string[] }>;
          additionalProperties: boolean;
        };
      };
    };
    const kc = schema.definitions.KernelConfig;
    expect(kc.additionalProperties).toBe(false);
    expect(Object.keys(kc.properties)).toContain('nodes');
    expect(kc.properties.variant?.enum).toEqual([
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
    ]);
  });
});
