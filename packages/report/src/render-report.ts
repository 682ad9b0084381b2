import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CLIENT_SCRIPT } from './client-script.js';
import type { ReportData } from './report-data.js';

const require = createRequire(import.meta.url);

/** A library inlined into the page: its browser build, read from node_modules. */
export interface InlinedLibrary {
  readonly name: string;
  readonly license: string;
  readonly code: string;
}

let libraries: readonly InlinedLibrary[] | null = null;

/**
 * elkjs (the Eclipse Layout Kernel compiled to JavaScript: layered layout of the wait-for
 * graph; EPL-2.0) and Chart.js (the charts; MIT). Both browser builds are read once from
 * the installed packages and inlined, so the page needs no network.
 */
export function inlinedLibraries(): readonly InlinedLibrary[] {
  if (libraries !== null) return libraries;
  const elk = require.resolve('elkjs/lib/elk.bundled.js');
  const chart = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  libraries = [
    { name: 'elkjs', license: 'EPL-2.0', code: readFileSync(elk, 'utf8') },
    { name: 'Chart.js', license: 'MIT', code: readFileSync(chart, 'utf8') },
  ];
  return libraries;
}

/** Keeps inlined code inside its `<script>` element. */
export function scriptText(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
  );
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 24px 40px; color: #1d1d1f; }
h1 { font-size: 20px; margin: 18px 0 8px; } h2 { font-size: 16px; margin: 22px 0 8px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dt { color: #666; } dd { margin: 0; }
#replay-command { width: min(70ch, 80vw); font: 12px monospace; }
pre { background: #f5f5f7; padding: 8px; overflow: auto; max-height: 320px; font-size: 12px; }
#cycle-graph-holder { overflow: auto; }
.node-title { font: bold 13px monospace; } .node-line { font: 12px monospace; }
.edge-label { font: 11px monospace; fill: #b03030; }
#lanes { overflow-x: auto; border: 1px solid #ddd; padding: 4px 0; }
.lane { display: flex; align-items: center; height: 30px; width: max-content; min-width: 100%; }
.lane-label { position: sticky; left: 0; z-index: 1; background: #fff; width: 64px;
  flex: none; font: 12px monospace; padding-left: 6px; }
.lane-track { position: relative; height: 26px; flex: none; border-bottom: 1px dashed #eee; }
.step { position: absolute; top: 2px; width: 20px; height: 22px; padding: 0; border: 1px solid #0003;
  border-radius: 3px; font: 11px monospace; cursor: pointer; }
.step.outcome-sleeps { border: 2px solid #333; } .step.outcome-ends { border-style: dashed; }
.step.selected { outline: 3px solid #000; z-index: 2; }
.chip { display: inline-block; padding: 1px 6px; margin: 2px; border-radius: 3px; font: 12px monospace; }
#details { border: 1px solid #ddd; padding: 8px 12px; min-height: 60px; margin-top: 8px; }
#details h3 { font-size: 14px; margin: 4px 0; } #details h4 { font-size: 12px; margin: 6px 0 2px; color: #555; }
#details ul { margin: 0; padding-left: 18px; font: 12px monospace; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.chart { margin: 0; } figcaption { font-size: 12px; color: #555; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 2px 8px; font: 12px monospace; }
`;

/**
 * Renders a report as ONE self-contained HTML file: the data as JSON, the page's script,
 * elkjs and Chart.js all inlined, nothing fetched when it is opened.
 */
export function renderReport(data: ReportData): string {
  const title = `mmsim ${data.summary.command} ${data.summary.scenario} (${data.summary.variant}): ${data.summary.status}`;
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const libs = inlinedLibraries()
    .map(
      (lib) =>
        `<script>/* ${lib.name} (${lib.license}), inlined from its npm package */\n${scriptText(lib.code)}\n</script>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<section id="summary"><dl id="summary-list"></dl>
<div id="finding-block"><h2>Finding</h2><pre id="finding-text"></pre></div></section>
<section id="cycle" hidden><h2>Wait-for cycle</h2>
<p>Each task, the kernel function it sleeps in, what it waits for and what it holds; an arrow points from a waiter to the holder.</p>
<div id="cycle-graph-holder">laying out...</div></section>
<section id="schedule" hidden><h2>Schedule</h2>
<p>One lane per CPU, one box per step, in step order: z = went to sleep, ^ = woke another task. Click a step for its details.</p>
<p id="lanes-note"></p><div id="lane-tasks"></div><div id="lanes"></div>
<div id="details">Click a step.</div></section>
<section id="metrics" hidden><h2>The run</h2><p id="metric-totals"></p><div id="metric-charts" class="charts"></div></section>
<section id="compare" hidden><h2>Variants side by side</h2><div id="compare-charts" class="charts"></div>
<table><thead><tr><th>variant</th><th>status</th><th>IPIs</th><th>flushes</th><th>migrated</th><th>failed</th><th>virtual us</th><th>pages/virtual s</th></tr></thead><tbody id="compare-table"></tbody></table></section>
<script type="application/json" id="mmsim-data">${json}</script>
${libs}
<script>${scriptText(CLIENT_SCRIPT)}</script>
</body>
</html>
`;
}
