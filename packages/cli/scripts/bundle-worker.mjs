// Bundles the worker thread's entry of `mmsim explore --workers N` (dist/workers/explore-worker.js
// and every module it imports) into one file, dist/explore-worker.bundle.js. A worker thread then
// loads and compiles one module instead of several hundred: its start-up costs a fraction of the
// CPU, which on a machine of few cores is taken from the search. Run after `tsc -b` (the
// package's build script).
import { bundleDist } from './bundle.mjs';

await bundleDist('workers/explore-worker.js', 'explore-worker.bundle.js');
