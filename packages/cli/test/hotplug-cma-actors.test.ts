import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

describe('scenario files: the memory hotplug and CMA actors (offline-pages, cma-alloc)', () => {
  const base = {
    name: 'hotplug-and-cma',
    config: {
      nodes: [{ pages: 2048 }, { pages: 1024 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      cma: [{ base: 1024, pages: 1024 }],
    },
    processes: [{ name: 'app', pages: 16 }],
    actors: [
      { type: 'user-task', cpu: 1, process: 'app', accesses: 12 },
      { type: 'offline-pages', cpu: 2, node: 1 },
      { type: 'cma-alloc', cpu: 0, count: 64, allocations: 2 },
    ],
  };
  const write = (data: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmsim-hotplug-')), 's.json');
    writeFileSync(file, JSON.stringify(data));
    return file;
  };

  test('a file with both actors runs, counts cma_alloc_success, and explores', () => {
    const file = write(base);
    const run = mmsim(['run', file, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT_OK);
    const r = JSON.parse(run.stdout) as { vmstat: Record<string, number> };
    expect(r.vmstat.cma_alloc_success).toBe(2);
    expect(mmsim(['explore', file, '--schedules', '10']).code).toBe(EXIT_OK);
  });

  test('an allocation the driver keeps (release false) is its reference, not a leak: exit 0', () => {
    const kept = {
      ...base,
      actors: [
        { type: 'user-task', cpu: 1, process: 'app', accesses: 8 },
        { type: 'cma-alloc', cpu: 0, count: 32, release: false },
      ],
    };
    const run = mmsim(['run', write(kept)]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT_OK);
  });

  test.each([
    [
      { type: 'offline-pages', cpu: 0, node: 2 },
      /actors\[0\]\.node is node 2, but the machine has 2 nodes/,
    ],
    [
      { type: 'offline-pages', cpu: 0, node: 1, block: 1 },
      /actors\[0\]\.block is block 1, but node 1 has 1 whole memory block of 1024 pages/,
    ],
    [
      { type: 'cma-alloc', cpu: 0, count: 4096 },
      /actors\[0\]\.count is 4096, but the area 'reserved' has 1024 pages/,
    ],
    [
      { type: 'cma-alloc', cpu: 0, count: 8, area: 'dma' },
      /actors\[0\]\.area "dma" is not an area of config\.cma \(reserved\)/,
    ],
    [{ type: 'cma-alloc', cpu: 0 }, /actors\[0\]\.count/],
  ])('bad actor %j: exit 2, one line', (actor, message) => {
    const r = mmsim(['run', write({ ...base, actors: [actor] })]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a cma-alloc actor without a CMA area, and a CMA area that is not free memory: exit 2', () => {
    const noArea = {
      ...base,
      config: { ...base.config, cma: undefined },
      actors: [{ type: 'cma-alloc', cpu: 0, count: 8 }],
    };
    const r = mmsim(['run', write(noArea)]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(/needs a CMA area: declare one in config\.cma/);
    const bad = { ...base, config: { ...base.config, cma: [{ base: 0, pages: 512 }] } };
    const r2 = mmsim(['run', write(bad)]);
    expect(r2.code).toBe(EXIT_USAGE);
    expect(r2.stderr).toMatch(/cma: pfn 0 .* is not free memory/);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
  });
});
