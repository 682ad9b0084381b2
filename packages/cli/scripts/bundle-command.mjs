// Bundles what the `mmsim` bin runs a command with (dist/command.js: the commands and every
// module they import, the workspace packages' dist and the third-party ones, some 600 modules)
// into one file, dist/command.bundle.js, which bin.js loads when it exists: node then reads
// and compiles one module instead of resolving, reading and compiling each (most of the CPU
// of `mmsim --version`). Run after `tsc -b` (the package's build script), like
// bundle-worker.mjs. At the root of dist, so that paths its modules resolve from their own
// location (`../package.json` of version.ts) resolve as from dist/*.js.
import { readFile } from 'node:fs/promises';
import { bundleDist } from './bundle.mjs';

// @mmsim/report reads the browser builds of its own dependencies (elkjs, chart.js) through a
// require made from its module's URL: in the bundle that URL is this package's, where pnpm
// does not install them, so that require is made from @mmsim/report's entry instead.
const REPORT_REQUIRE = 'createRequire(import.meta.url)';
const reportRequire = {
  name: 'report-require',
  setup(b) {
    b.onLoad({ filter: /[\\/]report[\\/]dist[\\/]render-report\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes(REPORT_REQUIRE)) {
        throw new Error(`${args.path}: no ${REPORT_REQUIRE} to rewrite (see bundle-command.mjs)`);
      }
      return {
        contents: text.replace(
          REPORT_REQUIRE,
          "createRequire(createRequire(import.meta.url).resolve('@mmsim/report'))",
        ),
        loader: 'js',
      };
    });
  },
};

await bundleDist('command.js', 'command.bundle.js', [reportRequire]);
