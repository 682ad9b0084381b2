import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

const dir = mkdtempSync(join(tmpdir(), 'mmsim-drivers-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const machine = 'config: { nodes: [{ pages: 512 }, { pages: 512 }], cpusPerNode: 2 }';

describe('driver pages and driver operations in scenario files', () => {
  test('a balloon and a zsmalloc pool, migrated while their operations run: exit 0, nothing found', () => {
    const path = file(
      'drivers.yaml',
      [
        'name: drivers-under-migration',
        machine,
        'drivers:',
        '  - { driver: virtio-balloon, node: 0, pages: 6 }',
        '  - { driver: zsmalloc, name: zram, node: 0, pages: 4 }',
        'actors:',
        '  - { type: migrator, cpu: 0, driver: virtio-balloon, mode: MIGRATE_SYNC, reason: MR_COMPACTION, rounds: 2, targets: [1, 0] }',
        '  - { type: migrator, cpu: 1, driver: zram, mode: MIGRATE_ASYNC, reason: MR_COMPACTION, rounds: 2, targets: [1] }',
        '  - { type: driver-op, cpu: 2, driver: virtio-balloon, operation: deflate, arg: 3 }',
        '  - { type: driver-op, cpu: 3, driver: zram, operation: zs_free, arg: 9 }',
        '  - { type: driver-op, cpu: 3, driver: zram, operation: zs_compact, arg: 2 }',
        '',
      ].join('\n'),
    );
    const run = mmsim(['run', path, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT_OK);
    const explore = mmsim(['explore', path, '--schedules', '20', '--seed', '3']);
    expect(explore.code).toBe(EXIT_OK);
  });

  test.each([
    [
      'an unknown driver',
      '  - { driver: virtio-mem, node: 0, pages: 2 }',
      '  - { type: driver-op, cpu: 0, driver: virtio-mem, operation: inflate }',
      /drivers\[0\]\.driver/,
    ],
    [
      'an operation the driver does not have',
      '  - { driver: zsmalloc, node: 0, pages: 2 }',
      '  - { type: driver-op, cpu: 0, driver: zsmalloc, operation: inflate }',
      /actors\[0\]\.operation zsmalloc has no operation inflate/,
    ],
    [
      'an actor naming a driver the file does not have',
      '  - { driver: zsmalloc, node: 0, pages: 2 }',
      '  - { type: driver-op, cpu: 0, driver: zram, operation: zs_free }',
      /actors\[0\]\.driver "zram" is not one of the file's drivers \(zsmalloc\)/,
    ],
    [
      'a migrator naming a process and a driver',
      '  - { driver: zsmalloc, node: 0, pages: 2 }',
      '  - { type: migrator, cpu: 0, driver: zsmalloc, process: app, mode: MIGRATE_SYNC, reason: MR_SYSCALL, rounds: 1, targets: [1] }',
      /names both a process and a driver/,
    ],
  ])('%s is refused: exit 2, one line naming the field', (_what, driver, actor, message) => {
    const path = file(
      `bad-${Math.random().toString(36).slice(2)}.yaml`,
      `name: x\n${machine}\ndrivers:\n${driver}\nactors:\n${actor}\n`,
    );
    const r = mmsim(['run', path]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
