import { describe, expect, it } from 'vitest';
import { readRepoFile, repoFiles } from '../src/repo-files.js';

describe('license', () => {
  it('LICENSE is the MIT license of the mmsim contributors', () => {
    const text = readRepoFile('LICENSE');
    expect(text).toMatch(/^MIT License\n\nCopyright \(c\) 2026 mmsim contributors\n/);
  });

  it('every package.json says MIT', () => {
    const manifests = repoFiles().filter((f) =>
      /^((packages|tools)\/[^/]+\/)?package\.json$/.test(f),
    );
    const other = manifests.filter((f) => JSON.parse(readRepoFile(f)).license !== 'MIT');
    expect(manifests.length).toBeGreaterThan(10);
    expect(other).toEqual([]);
  });
});
