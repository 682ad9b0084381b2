import { pctGuaranteeLine } from '@mmsim/explore';
import type { CampaignPageCell, CampaignPageData } from './campaign-data.js';
import { escapeHtml, inlinedLibraries, scriptText } from './render-report.js';

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 24px 40px; color: #1d1d1f; }
h1 { font-size: 20px; margin: 18px 0 8px; } h2 { font-size: 16px; margin: 22px 0 8px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dt { color: #666; } dd { margin: 0; }
.totals { font-weight: bold; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 2px 8px; font: 12px monospace; }
th { cursor: pointer; background: #f5f5f7; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; } th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num { text-align: right; } tr.found td { background: #fde8e8; }
code, pre { font: 12px monospace; } pre { background: #f5f5f7; padding: 6px; overflow: auto; }
#rate-holder { overflow-x: auto; }
`;

/** The columns of the cell table: header, the value to show, the value to sort by. */
const COLUMNS: readonly {
  readonly title: string;
  readonly text: (c: CampaignPageCell) => string;
  readonly sort: (c: CampaignPageCell) => string | number;
}[] = [
  { title: 'scenario', text: (c) => c.scenario, sort: (c) => c.scenario },
  { title: 'variant', text: (c) => c.variant, sort: (c) => c.variant },
  { title: 'strategy', text: (c) => c.strategy, sort: (c) => c.strategy },
  ...(
    [
      ['schedules', 'schedules'],
      ['findings', 'findings'],
      ['deadlocks', 'deadlocks'],
      ['invariant violations', 'invariantViolations'],
      ['lost writes', 'lostWrites'],
      ['leaked frames/refs', 'leakedFramesOrReferences'],
      ['leaked locks', 'leakedLocks'],
      ['step-limit runs', 'stepLimitRuns'],
      ['max steps', 'maxSteps'],
    ] as const
  ).map(([title, key]) => ({
    title,
    text: (c: CampaignPageCell) => String(c[key]),
    sort: (c: CampaignPageCell) => c[key],
  })),
  {
    title: 'schedules/s',
    text: (c) => (c.schedulesPerSecond === null ? '-' : c.schedulesPerSecond.toFixed(0)),
    sort: (c) => c.schedulesPerSecond ?? -1,
  },
  { title: 'stopped by', text: (c) => c.stoppedBy, sort: (c) => c.stoppedBy },
  {
    title: 'exhausted',
    text: (c) => (c.exhausted ? 'yes' : 'no'),
    sort: (c) => (c.exhausted ? 1 : 0),
  },
  {
    title: 'faults',
    text: (c) => c.faults.join(', ') || '-',
    sort: (c) => c.faults.join(', '),
  },
];

/** `scenario@variant/strategy`: a cell's name. */
export function campaignCellName(c: CampaignPageCell): string {
  return `${c.scenario}@${c.variant}/${c.strategy}`;
}

/** The bound of a `dpor:K` (or `dfs:K`) strategy text, or null. */
function boundOf(strategy: string): number | null {
  const m = /^(?:dpor|dfs):(\d+)$/.exec(strategy);
  return m === null ? null : Number(m[1]);
}

/** " covering M interleaving classes" (or "at most M") when the cell counted them. */
function classesText(c: CampaignPageCell): string {
  if (typeof c.classes !== 'number') return '';
  return ` covering ${c.classesAtMost === true ? 'at most ' : ''}${c.classes} interleaving classes`;
}

/**
 * The guarantee lines of a campaign: each systematic cell exhausted to its preemption bound
 * (or not, and why it stopped), and each PCT cell's probability bound.
 */
export function campaignGuarantees(data: CampaignPageData): string[] {
  const lines: string[] = [];
  for (const c of data.cells) {
    const bound = boundOf(c.strategy);
    if (bound !== null || c.strategy === 'dpor' || c.strategy === 'dfs') {
      lines.push(
        c.exhausted
          ? `${campaignCellName(c)}: exhausted — every schedule up to preemption bound ${bound ?? '-'} explored, ${c.schedules} execution(s)${classesText(c)}${c.findings === 0 ? ', no finding' : `, ${c.findings} finding(s)`}`
          : `${campaignCellName(c)}: not exhausted (stopped by ${c.stoppedBy} after ${c.schedules} execution(s))`,
      );
    } else if (c.strategy.startsWith('pct')) {
      lines.push(
        c.pct === undefined || c.pct === null
          ? `${campaignCellName(c)}: no pct guarantee recorded`
          : `${campaignCellName(c)}: ${pctGuaranteeLine(c.pct)}`,
      );
    }
  }
  return lines;
}

function summaryRows(data: CampaignPageData): [string, string][] {
  const c = data.campaign;
  return [
    ['seed', String(c.seed)],
    [
      'budget per cell',
      `${c.schedulesPerCell} schedule(s)${c.timeBudgetSecondsPerCell === null ? '' : ` or ${c.timeBudgetSecondsPerCell} s`}`,
    ],
    ['shard', c.shard ?? 'all (unsharded or merged)'],
    [
      'strategies',
      `${c.strategies.join(', ')}${c.strategiesNotSupported.length === 0 ? '' : ` (not supported: ${c.strategiesNotSupported.join(', ')})`}`,
    ],
    [
      'faults',
      `every registered site with probability ${c.faultProbability}${c.faultKindsNotModelled.length === 0 ? '' : `; no site yet for: ${c.faultKindsNotModelled.join(', ')}`}`,
    ],
    ['workers', String(c.workers)],
  ];
}

function totalsLine(data: CampaignPageData): string {
  const t = data.totals;
  return (
    `${t.schedules} schedules in ${t.cells} cells: ${t.findings} finding(s), ${t.stepLimitRuns} step-limit run(s) (not findings), ` +
    `${t.deadlocks} deadlock(s), ${t.invariantViolations} invariant violation(s), ${t.lostWrites} lost write(s), ` +
    `${t.leakedFramesOrReferences} leaked frame(s)/reference(s), ${t.leakedLocks} leaked lock(s); ` +
    `${(t.elapsedMs / 1000).toFixed(1)} s, ${t.schedulesPerSecond === null ? '-' : t.schedulesPerSecond.toFixed(0)} schedules/s`
  );
}

function cellRow(c: CampaignPageCell): string {
  const tds = COLUMNS.map((col, i) => {
    const v = col.sort(c);
    const num = typeof v === 'number';
    return `<td${num ? ' class="num"' : ''} data-sort="${escapeHtml(String(v))}"${i === 0 ? ' scope="row"' : ''}>${escapeHtml(col.text(c))}</td>`;
  }).join('');
  return `<tr${c.findings > 0 ? ' class="found"' : ''} data-cell="${escapeHtml(campaignCellName(c))}">${tds}</tr>`;
}

/** The page's script: sortable table columns and the schedules/s chart (Chart.js). */
const CAMPAIGN_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('mmsim-campaign').textContent);
  var table = document.getElementById('cells');
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function sortBy(index) {
    var th = heads[index];
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute('aria-sort');
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var numeric = th.getAttribute('data-type') === 'number';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute('data-sort');
      var y = b.cells[index].getAttribute('data-sort');
      var d = numeric ? Number(x) - Number(y) : (x < y ? -1 : x > y ? 1 : 0);
      return dir * d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  for (var i = 0; i < heads.length; i++) {
    (function (index) {
      heads[index].addEventListener('click', function () { sortBy(index); });
    })(i);
  }
  var canvas = document.getElementById('rate-chart');
  var cells = data.cells;
  new Chart(canvas, {
    type: 'bar',
    data: {
      labels: cells.map(function (c) { return c.scenario + '@' + c.variant + '/' + c.strategy; }),
      datasets: [{ label: 'schedules/s', backgroundColor: cells.map(function (c) {
        return c.findings > 0 ? '#c03030' : '#2070b0'; }),
        data: cells.map(function (c) { return c.schedulesPerSecond === null ? 0 : c.schedulesPerSecond; }) }]
    },
    options: { animation: false, responsive: false, indexAxis: 'y', plugins: { legend: { display: false } } }
  });
  document.body.setAttribute('data-ready', 'yes');
})();
`;

/**
 * Renders an `mmsim campaign` report as ONE self-contained HTML file: the summary (budget,
 * strategies, faults, totals), the guarantees (exhausted DPOR cells, PCT probability
 * bounds), the cell table (click a header to sort), a Chart.js bar chart of schedules per
 * second per cell, and each finding with its replay command. Chart.js is inlined (as
 * `renderReport` inlines it); nothing is fetched when the page is opened.
 */
export function renderCampaignReport(data: CampaignPageData): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const chartJs = inlinedLibraries().find((l) => l.name === 'Chart.js');
  const lib =
    chartJs === undefined
      ? ''
      : `<script>/* ${chartJs.name} (${chartJs.license}), inlined from its npm package */\n${scriptText(chartJs.code)}\n</script>`;
  const guarantees = campaignGuarantees(data);
  const found = data.cells.filter((c) => c.findings > 0);
  const long = data.cells.filter((c) => c.stepLimitRuns > 0);
  const headers = COLUMNS.map((col, i) => {
    const numeric = typeof col.sort(data.cells[0] ?? ({} as CampaignPageCell)) === 'number';
    return `<th scope="col" data-col="${i}" data-type="${numeric ? 'number' : 'text'}">${escapeHtml(col.title)}</th>`;
  }).join('');
  const chartHeight = 40 + 18 * Math.max(1, data.cells.length);
  const title = `mmsim campaign: ${data.totals.findings} finding(s) in ${data.totals.schedules} schedules`;
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
<section id="summary"><dl>${summaryRows(data)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('')}</dl>
<p class="totals" id="totals">${escapeHtml(totalsLine(data))}</p></section>
<section id="guarantees"><h2>Guarantees</h2>
${guarantees.length === 0 ? '<p>No systematic or PCT cell.</p>' : `<ul>${guarantees.map((g) => `<li>${escapeHtml(g)}</li>`).join('')}</ul>`}</section>
<section id="cells-section"><h2>Cells</h2><p>Click a column header to sort.</p>
<table id="cells"><thead><tr>${headers}</tr></thead>
<tbody>${data.cells.map(cellRow).join('\n')}</tbody></table></section>
<section id="rate"><h2>Schedules per second per cell</h2>
<div id="rate-holder"><canvas id="rate-chart" width="900" height="${chartHeight}"></canvas></div></section>
<section id="findings"><h2>Findings</h2>
${
  found.length === 0
    ? '<p>None.</p>'
    : `<ul>${found
        .map(
          (c) =>
            `<li><b>${escapeHtml(campaignCellName(c))}</b>${c.findingIndex === null ? '' : `, schedule ${c.findingIndex}`}: ${escapeHtml(c.message ?? `${c.findings} finding(s)`)}` +
            `${c.replayCommand === null ? '' : `<pre class="replay">${escapeHtml(c.replayCommand)}</pre>`}</li>`,
        )
        .join('\n')}</ul>`
}</section>
${
  long.length === 0
    ? ''
    : `<section id="step-limit"><h2>Step-limit runs (not findings)</h2><ul>${long
        .map(
          (c) =>
            `<li>${escapeHtml(campaignCellName(c))}: ${c.stepLimitRuns} of ${c.schedules} schedule(s) past ${c.maxSteps} steps` +
            `${c.stepLimitReplay === null ? '' : `; <code>${escapeHtml(`mmsim replay ${c.stepLimitReplay}`)}</code>`}</li>`,
        )
        .join('')}</ul></section>`
}
${
  data.skipped.length === 0
    ? ''
    : `<section id="skipped"><h2>Skipped</h2><ul>${data.skipped.map((s) => `<li>${escapeHtml(`${s.scenario}: ${s.reason}`)}</li>`).join('')}</ul></section>`
}
<script type="application/json" id="mmsim-campaign">${json}</script>
${lib}
<script>${scriptText(CAMPAIGN_SCRIPT)}</script>
</body>
</html>
`;
}
