import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

describe('scenario files: the compaction actors (kcompactd, compact-memory, direct-compaction)', () => {
  const base = {
    name: 'compacting',
    config: { nodes: [{ pages: 2048 }], cpusPerNode: 4, variant: 'v6.3' },
    processes: [{ name: 'app', pages: 32 }],
    actors: [
      { type: 'user-task', cpu: 1, process: 'app', accesses: 20 },
      { type: 'compact-memory', cpu: 0 },
      { type: 'kcompactd', cpu: 2, node: 0, timeouts: 1 },
      { type: 'direct-compaction', cpu: 3, node: 0, order: 2 },
    ],
  };
  const write = (data: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmsim-compaction-')), 's.json');
    writeFileSync(file, JSON.stringify(data));
    return file;
  };

  test('a file with the three compaction actors runs and explores', () => {
    const file = write(base);
    const run = mmsim(['run', file, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT_OK);
    const r = JSON.parse(run.stdout) as { vmstat: Record<string, number> };
    // compact_memory scanned the node's zone.
    expect(r.vmstat.compact_migrate_scanned).toBeGreaterThan(0);
    expect(mmsim(['explore', file, '--schedules', '10']).code).toBe(EXIT_OK);
  });

  test.each([
    [
      { type: 'kcompactd', cpu: 2, node: 1, timeouts: 1 },
      /actors\[0\]\.node is node 1, but the machine has 1 node/,
    ],
    [{ type: 'compact-memory', cpu: 0, nodes: [0, 5] }, /actors\[0\]\.nodes\[1\] is node 5/],
    [
      { type: 'direct-compaction', cpu: 3, node: 0, order: 0 },
      /actors\[0\]\.order must be an allocation order/,
    ],
    [{ type: 'kcompactd', cpu: 2, node: 0 }, /actors\[0\]\.timeouts/],
    [
      { type: 'defragmenter', cpu: 0 },
      /must be one of .*'kcompactd', 'compact-memory', 'direct-compaction'/,
    ],
  ])('bad actor %j: exit 2, one line', (actor, message) => {
    const r = mmsim(['run', write({ ...base, actors: [actor] })]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
