// One esbuild set-up for the two bundles of the built command (bundle-worker.mjs,
// bundle-command.mjs): `bundleDist(entry, out)` bundles dist/ENTRY and every module it imports
// (the workspace packages' dist and the third-party ones) into dist/OUT, an ES module for
// node 20, and prints how many modules went into it. The bundles sit at the root of dist, so
// that paths their modules resolve from their own location (`../package.json` of version.ts)
// resolve as from dist/*.js.
import { build } from 'esbuild';

/** Bundles dist/`entry` into dist/`out`; `plugins` are esbuild plugins. */
export async function bundleDist(entry, out, plugins = []) {
  const result = await build({
    entryPoints: [new URL(`../dist/${entry}`, import.meta.url).pathname],
    outfile: new URL(`../dist/${out}`, import.meta.url).pathname,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The CommonJS dependencies bundled (yaml, commander, ...) call require() for node's modules.
    banner: {
      js: "import { createRequire as __mmsimCreateRequire } from 'node:module'; const require = __mmsimCreateRequire(import.meta.url);",
    },
    plugins,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs).length;
  process.stdout.write(`dist/${out}: ${inputs} modules in one\n`);
}
