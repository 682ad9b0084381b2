import { describe, expect, it } from 'vitest';
import { readRepoFile, repoFiles } from '../src/repo-files.js';

/**
 * docs/architecture.md lists each package's runtime dependencies, lowest first. The list is
 * what a reader trusts about the dependency direction, so it must say what the manifests say.
 */
function documentedDependencies(): Map<string, string[]> {
  const doc = readRepoFile('docs/architecture.md');
  const block = /The same as a list[^`]*```text\n([\s\S]*?)```/.exec(doc);
  if (block === null) throw new Error('docs/architecture.md has no dependency list');
  const out = new Map<string, string[]>();
  for (const line of (block[1] ?? '').split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [, name = '', rest = ''] = m;
    const list = rest.split(/:| \(/)[0] ?? '';
    out.set(
      name,
      /nothing of ours/.test(list)
        ? []
        : list
            .split(',')
            .map((d) => d.trim())
            .filter((d) => d !== '' && !/\s/.test(d))
            .sort(),
    );
  }
  return out;
}

function manifestDependencies(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of repoFiles().filter((f) => /^packages\/[^/]+\/package\.json$/.test(f))) {
    const manifest = JSON.parse(readRepoFile(file)) as {
      name: string;
      dependencies?: Record<string, string>;
    };
    out.set(
      manifest.name.replace('@mmsim/', ''),
      Object.keys(manifest.dependencies ?? {})
        .filter((d) => d.startsWith('@mmsim/'))
        .map((d) => d.replace('@mmsim/', ''))
        .sort(),
    );
  }
  return out;
}

describe('docs/architecture.md', () => {
  it('lists every package with exactly the runtime dependencies of its package.json', () => {
    const manifests = manifestDependencies();
    expect(manifests.size).toBeGreaterThan(10);
    expect(Object.fromEntries(documentedDependencies())).toEqual(Object.fromEntries(manifests));
  });

  it('orders them lowest first: no package depends on one listed after it', () => {
    const order = [...documentedDependencies().keys()];
    const late = [...documentedDependencies()].flatMap(([name, deps]) =>
      deps.filter((d) => order.indexOf(d) > order.indexOf(name)).map((d) => `${name} -> ${d}`),
    );
    expect(late).toEqual([]);
  });
});
