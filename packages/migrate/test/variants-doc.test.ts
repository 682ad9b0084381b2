import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type IntegerSettingRange,
  VARIANT_SETTING_KEYS,
  VARIANT_SETTINGS,
  VARIANTS,
  type VariantName,
} from '../src/index.js';

const COLUMNS: VariantName[] = [
  'v6.2',
  'rfc-2022',
  'v6.3-rc1',
  'v6.3',
  'v6.10',
  'v6.11',
  'v6.4',
  'v6.12',
  'v6.17',
  'batch-copy',
];

/** The rows of the settings table in docs/variants.md, by setting. */
function table(): Map<string, string[]> {
  const text = readFileSync(new URL('../../../docs/variants.md', import.meta.url), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\| `(\w+)`\s+\|(.*)\|\s*$/.exec(line);
    if (m === null) continue;
    rows.set(
      m[1]!,
      m[2]!.split('|').map((c) => c.trim()),
    );
  }
  return rows;
}

describe('docs/variants.md', () => {
  it("documents every setting, its values and each built-in variant's value", () => {
    const rows = table();
    expect([...rows.keys()]).toEqual([...VARIANT_SETTING_KEYS]);
    for (const key of VARIANT_SETTING_KEYS) {
      const cells = rows.get(key)!;
      const allowed = VARIANT_SETTINGS[key];
      if (allowed !== 'boolean' && !Array.isArray(allowed)) {
        const { min, max } = (allowed as IntegerSettingRange).integer;
        expect(cells[0], key).toBe(`\`${min}\`..\`${max}\``);
      } else {
        const values = allowed === 'boolean' ? ['true', 'false'] : (allowed as readonly string[]);
        expect(cells[0], key).toBe(values.map((v) => `\`${v}\``).join(', '));
      }
      COLUMNS.forEach((name, i) => {
        const cell = cells[i + 1]!.replace(/\s*\\\*$/, '');
        const value = cell === 'same' ? VARIANTS['v6.3'][key] : cell.replace(/`/g, '');
        expect(String(value), `${key} in ${name}`).toBe(String(VARIANTS[name][key]));
      });
    }
  });
});
