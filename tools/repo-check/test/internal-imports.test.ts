import { describe, expect, it } from 'vitest';
import { readRepoFile, repoFiles } from '../src/repo-files.js';

/**
 * A package's `./internal` may change in any release, and packages are versioned on their
 * own: a published package that imported another's internals could break on a patch
 * release of its dependency, and `./test` holds fixtures, not model code. So a package's
 * source imports only the public `"."` of the others, except that fixtures (`src/testing`)
 * build on the fixtures of the packages below; tests may reach further.
 */
describe('public surfaces', () => {
  it("no package's source imports another package's ./internal, nor model code its ./test", () => {
    const sources = repoFiles().filter((f) => /^packages\/[^/]+\/src\/.*\.ts$/.test(f));
    expect(sources.length).toBeGreaterThan(100);
    const offending: string[] = [];
    for (const file of sources) {
      const own = file.split('/')[1];
      const text = readRepoFile(file);
      for (const m of text.matchAll(/from '@mmsim\/([\w-]+)\/(internal|test)'/g)) {
        const fixtureOnFixture = m[2] === 'test' && file.includes('/src/testing/');
        if (m[1] !== own && !fixtureOnFixture) offending.push(`${file}: @mmsim/${m[1]}/${m[2]}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
