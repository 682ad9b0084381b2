import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

describe('scenario files: the longterm-pin actor', () => {
  const base = {
    name: 'pinning',
    config: { nodes: [{ pages: 2048, movablePages: 1024 }], cpusPerNode: 3, variant: 'v6.3' },
    processes: [
      { name: 'app', pages: 16 },
      { name: 'rdma', pages: 8 },
    ],
    actors: [
      { type: 'user-task', cpu: 1, process: 'app', accesses: 20 },
      { type: 'longterm-pin', cpu: 0, process: 'app', pages: 8 },
      { type: 'longterm-pin', cpu: 2, process: 'rdma', via: 'ib_umem_get', holdSteps: 3 },
    ],
  };
  const write = (data: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmsim-pin-')), 's.json');
    writeFileSync(file, JSON.stringify(data));
    return file;
  };

  test('a file pinning ZONE_MOVABLE pages runs (the pages migrate first) and explores', () => {
    const file = write(base);
    const run = mmsim(['run', file, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT_OK);
    const r = JSON.parse(run.stdout) as { vmstat: Record<string, number> };
    // every pinned page started in ZONE_MOVABLE and had to move before its pin stood
    expect(r.vmstat.pgmigrate_success).toBe(16);
    // two passes of each pin: the first one's pins dropped before the migration
    expect(r.vmstat.nr_foll_pin_acquired).toBe(32);
    // ib_umem_release after holdSteps; the pin_user_pages one is held to the end
    expect(r.vmstat.nr_foll_pin_released).toBe(24);
    expect(mmsim(['explore', file, '--schedules', '10']).code).toBe(EXIT_OK);
  });

  test.each([
    [
      { type: 'longterm-pin', cpu: 0, process: 'app', pages: 17 },
      /actors\[0\]\.pages 17 pages, but app maps only 16/,
    ],
    [{ type: 'longterm-pin', cpu: 0, process: 'nobody' }, /actors\[0\]\.process "nobody"/],
    [{ type: 'longterm-pin', cpu: 0 }, /actors\[0\]\.process/],
    [{ type: 'longterm-pin', cpu: 0, process: 'app', via: 'vfio' }, /actors\[0\]\.via/],
    [{ type: 'pinner', cpu: 0 }, /must be one of .*'longterm-pin'/],
  ])('bad actor %j: exit 2, one line', (actor, message) => {
    const r = mmsim(['run', write({ ...base, actors: [actor] })]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a node whose movablePages leaves no ZONE_NORMAL: exit 2, one line', () => {
    const r = mmsim([
      'run',
      write({ ...base, config: { ...base.config, nodes: [{ pages: 2048, movablePages: 2048 }] } }),
    ]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(/nodes\[0\]\.movablePages must be at most 2047/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
