// Bundles the worker thread's entry of `mmsim explore --workers N` (dist/workers/explore-worker.js
// and every module it imports: the workspace packages' dist and the third-party ones) into one
// file, dist/explore-worker.bundle.js. A worker thread then loads and compiles one module
// instead of several hundred: its start-up costs a fraction of the CPU, which on a machine of
// few cores is taken from the search. Run after `tsc -b` (the package's build script).
// The bundle sits at the root of dist so that paths its modules resolve from their own
// location (`../package.json` of version.ts) resolve as from dist/*.js.
import { build } from 'esbuild';

const result = await build({
  entryPoints: [new URL('../dist/workers/explore-worker.js', import.meta.url).pathname],
  outfile: new URL('../dist/explore-worker.bundle.js', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The CommonJS dependencies bundled (yaml, ...) call require() for node's modules.
  banner: {
    js: "import { createRequire as __mmsimCreateRequire } from 'node:module'; const require = __mmsimCreateRequire(import.meta.url);",
  },
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
const inputs = Object.keys(result.metafile.inputs).length;
process.stdout.write(`dist/explore-worker.bundle.js: ${inputs} modules in one\n`);
