import { describe, expect, it } from 'vitest';
import {
  CHECKER_KIND_NAMES,
  checkerKinds,
  declaredLocks,
  parseLockTree,
} from '../src/lock-order.js';
import { readRepoFile, repoFiles } from '../src/repo-files.js';

const tree = parseLockTree(readRepoFile('docs/locking.md'));
// Model code only: the fixtures under src/testing (test targets with their own mutexes)
// declare no kernel lock.
const sources = repoFiles()
  .filter((f) => /^packages\/[^/]+\/src\/.*\.ts$/.test(f) && !f.includes('/src/testing/'))
  .map((path) => ({ path, text: readRepoFile(path) }));
const declared = declaredLocks(sources);
const checker = sources.find((s) => /export type HeldKind\s*=/.test(s.text));
const kinds = checkerKinds(checker?.text ?? '').map((k) => CHECKER_KIND_NAMES[k] ?? k);
const modelled = new Set(tree.filter((n) => n.modelled).map((n) => n.name));

describe('docs/locking.md: the lock order tree against the code', () => {
  it('parses into a tree with the kernel order folio lock -> i_mmap_rwsem -> anon_vma -> ptl', () => {
    const ptl = tree.find((n) => n.name === 'ptl');
    expect(ptl?.ancestors).toEqual(
      expect.arrayContaining(['mmap_lock', 'PG_locked', 'i_mmap_rwsem', 'anon_vma']),
    );
  });

  it('names every lock the packages declare', () => {
    const missing = [...declared].filter(([name]) => !modelled.has(name));
    expect(missing.map(([name, where]) => `${name} (${where})`)).toEqual([]);
  });

  it('names every kind of lock the page-lock dependency checker tracks', () => {
    expect(kinds.filter((k) => !modelled.has(k))).toEqual([]);
  });

  it('marks as (not modelled) every lock the code does not have', () => {
    const known = new Set([...declared.keys(), ...kinds]);
    expect([...modelled].filter((name) => !known.has(name))).toEqual([]);
  });
});
