import { describe, expect, test } from 'vitest';
import { runBuilt as run, timeless } from './support/built-mmsim.js';

const RFC = ['explore', 'rfc-lock-order', '--variant', 'v6.3'];

describe('explore --strategy dpor --workers', () => {
  test.each([
    ['a small search, exhausted', [...RFC, '--strategy', 'dpor:1'], 0, ['2', '3']],
    [
      'a search cut by --schedules',
      [...RFC, '--strategy', 'dpor:2', '--schedules', '300'],
      0,
      ['2'],
    ],
    ['a shard of a search', [...RFC, '--strategy', 'dpor:1', '--shard', '2/3'], 0, ['2']],
    // The historic deadlock (v6.3-rc1), found and shrunk the same.
    ['a finding', ['explore', 'loop-bh-deadlock', '--strategy', 'dpor:2'], 1, ['2', '3']],
  ])(
    '%s: --workers 1 and more print the same JSON',
    async (_, args, code, more) => {
      const runs = await Promise.all(
        ['1', ...more].map((w) => run([...args, '--json', '--workers', w])),
      );
      const one = runs[0] as (typeof runs)[number];
      const others = runs.slice(1);
      expect(one.stderr).not.toMatch(/mmsim:|Error/);
      expect(one.code).toBe(code);
      const expected = timeless(one.stdout);
      expect(expected.strategy).toMatch(/^dpor/);
      for (const other of others) {
        expect(other.code).toBe(one.code);
        expect(timeless(other.stdout)).toEqual(expected);
      }
    },
    600_000,
  );
});
