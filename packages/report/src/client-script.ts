/**
 * The page's own script, run in the browser: it reads the embedded report data and draws
 * the summary, the wait-for graph (laid out by elkjs), the per-CPU lanes with their
 * clickable steps, and the charts (Chart.js). Plain ES2020 in a string, so the page needs
 * no bundler and no network.
 */
export const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('mmsim-data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    return node;
  }
  function hue(id) { return (id * 137.508) % 360; }

  // Summary
  var s = data.summary;
  var rows = [
    ['command', 'mmsim ' + s.command],
    ['scenario', s.scenario + (s.title ? ' (' + s.title + ')' : '')],
    ['variant', s.variant],
    ['seed', s.seed === null ? '-' : String(s.seed)],
    ['status', s.status],
    ['finding', s.finding === null ? 'none' : s.finding],
  ];
  var dl = document.getElementById('summary-list');
  rows.forEach(function (r) {
    dl.appendChild(el('dt', { text: r[0] }));
    dl.appendChild(el('dd', { text: r[1], 'data-field': r[0] }));
  });
  if (s.replayCommand !== null) {
    var input = el('input', { id: 'replay-command', readonly: 'readonly', spellcheck: 'false' });
    input.value = s.replayCommand;
    var copy = el('button', { type: 'button', text: 'copy' });
    copy.addEventListener('click', function () {
      input.select();
      if (navigator.clipboard) navigator.clipboard.writeText(s.replayCommand).catch(function () {});
    });
    dl.appendChild(el('dt', { text: 'replay' }));
    dl.appendChild(el('dd', {}, [input, copy]));
  }
  if (s.findingText) document.getElementById('finding-text').textContent = s.findingText;
  else document.getElementById('finding-block').hidden = true;

  // The wait-for cycle
  function drawCycle(cycle) {
    var section = document.getElementById('cycle');
    section.hidden = false;
    var byId = {};
    var children = cycle.tasks.map(function (t) {
      var lines = [t.name + '-' + t.id + ' (CPU ' + t.cpu + ')', 'sleeps in ' + t.waitsIn + '()',
        'waits for ' + t.waitsFor];
      t.holds.forEach(function (h) { lines.push('holds ' + h); });
      var width = 24 + 7.2 * Math.max.apply(null, lines.map(function (l) { return l.length; }));
      var node = { id: 't' + t.id, width: width, height: 14 + 17 * lines.length, lines: lines, task: t };
      byId[node.id] = node;
      return node;
    });
    var edges = cycle.edges.map(function (e, i) {
      return { id: 'e' + i, sources: ['t' + e.from], targets: ['t' + e.to],
        labels: [{ text: e.resource, width: 7 * e.resource.length + 8, height: 16 }] };
    });
    var graph = { id: 'root', children: children, edges: edges, layoutOptions: {
      'elk.algorithm': 'layered', 'elk.direction': 'RIGHT',
      'elk.spacing.nodeNode': '40', 'elk.layered.spacing.nodeNodeBetweenLayers': '90',
      'elk.edgeLabels.inline': 'false' } };
    new ELK().layout(graph).then(function (laid) {
      var root = svg('svg', { id: 'cycle-graph', width: laid.width + 20, height: laid.height + 20,
        viewBox: '-10 -10 ' + (laid.width + 20) + ' ' + (laid.height + 20), role: 'img' });
      var defs = svg('defs');
      var marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5',
        markerWidth: '8', markerHeight: '8', orient: 'auto-start-reverse' });
      marker.appendChild(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#b03030' }));
      defs.appendChild(marker);
      root.appendChild(defs);
      laid.edges.forEach(function (e) {
        (e.sections || []).forEach(function (sec) {
          var pts = [sec.startPoint].concat(sec.bendPoints || [], [sec.endPoint]);
          root.appendChild(svg('polyline', { class: 'cycle-edge', fill: 'none', stroke: '#b03030',
            'stroke-width': '1.6', 'marker-end': 'url(#arrow)',
            points: pts.map(function (p) { return p.x + ',' + p.y; }).join(' ') }));
        });
        (e.labels || []).forEach(function (l) {
          var t = svg('text', { x: l.x + 4, y: l.y + 12, class: 'edge-label' });
          t.textContent = l.text;
          root.appendChild(t);
        });
      });
      laid.children.forEach(function (n) {
        var info = byId[n.id];
        var g = svg('g', { class: 'task-node', 'data-task': String(info.task.id),
          transform: 'translate(' + n.x + ',' + n.y + ')' });
        g.appendChild(svg('rect', { width: n.width, height: n.height, rx: '6',
          fill: 'hsl(' + hue(info.task.id) + ',60%,92%)', stroke: 'hsl(' + hue(info.task.id) + ',50%,40%)' }));
        info.lines.forEach(function (line, i) {
          var t = svg('text', { x: '12', y: String(22 + 17 * i), class: i === 0 ? 'node-title' : 'node-line' });
          t.textContent = line;
          g.appendChild(t);
        });
        root.appendChild(g);
      });
      var holder = document.getElementById('cycle-graph-holder');
      holder.textContent = '';
      holder.appendChild(root);
      document.body.setAttribute('data-graph', 'ready');
    }).catch(function (error) {
      document.getElementById('cycle-graph-holder').textContent = 'layout failed: ' + error;
      document.body.setAttribute('data-graph', 'failed');
    });
  }
  if (data.cycle) drawCycle(data.cycle);
  else document.body.setAttribute('data-graph', 'none');

  // The schedule: one lane per CPU
  var details = document.getElementById('details');
  function list(title, items) {
    if (!items || items.length === 0) return null;
    return el('div', { className: 'detail-group' }, [el('h4', { text: title }),
      el('ul', {}, items.map(function (i) { return el('li', { text: i }); }))]);
  }
  function outcomeText(st) {
    switch (st.outcome) {
      case 'sleeps': return 'sleeps in ' + st.waitsIn + '() on ' + st.resource + ' (held by ' +
        ((st.heldBy && st.heldBy.length) ? st.heldBy.join(', ') : 'nobody') + ')';
      case 'timed-sleep': return 'sleeps for a while (timed)';
      case 'ends': return 'ends';
      case 'crashes': return 'throws (the run ends)';
      default: return 'runs on';
    }
  }
  function showStep(st, button) {
    document.querySelectorAll('.step.selected').forEach(function (b) { b.classList.remove('selected'); });
    button.classList.add('selected');
    details.textContent = '';
    var who = st.task === null ? 'unknown task' : st.task.name + '-' + st.task.id + ' on CPU ' + st.task.cpu;
    details.appendChild(el('h3', { id: 'details-title', text: 'Step ' + st.step + ': ' + who +
      (st.preemption ? ' (preempted another)' : st.decision ? ' (chosen at a decision)' : '') }));
    details.appendChild(el('p', { className: 'outcome', text: outcomeText(st) }));
    [list('locks taken', st.took), list('locks released', st.released),
      list('locks handed over', st.handedOver), list('woke', st.woke),
      list('tracepoints', st.events.map(function (e) {
        return (e.ts / 1000).toFixed(3) + ' us  ' + e.name + ': ' + e.text; }))]
      .forEach(function (g) { if (g) details.appendChild(g); });
    if (details.childNodes.length === 2 && st.outcome === 'runs')
      details.appendChild(el('p', { text: 'no tracepoint, no lock change' }));
  }
  if (data.steps.length > 0) {
    document.getElementById('schedule').hidden = false;
    if (data.totalSteps > data.steps.length) {
      document.getElementById('lanes-note').textContent = 'The last ' + data.steps.length +
        ' of ' + data.totalSteps + ' steps.';
    }
    var lanes = document.getElementById('lanes');
    var W = 22;
    var laneOf = {};
    data.cpus.forEach(function (cpu) {
      var track = el('div', { className: 'lane-track' });
      track.style.width = (data.steps.length * W) + 'px';
      var lane = el('div', { className: 'lane', 'data-cpu': String(cpu) },
        [el('div', { className: 'lane-label', text: 'CPU ' + cpu }), track]);
      lanes.appendChild(lane);
      laneOf[cpu] = track;
    });
    data.steps.forEach(function (st, i) {
      var cpu = st.task === null ? data.cpus[0] : st.task.cpu;
      var track = laneOf[cpu] || laneOf[data.cpus[0]];
      var name = st.task === null ? '?' : st.task.name;
      var b = el('button', { type: 'button', className: 'step outcome-' + st.outcome +
        (st.woke.length ? ' wakes' : ''), 'data-step': String(st.step),
        title: 'step ' + st.step + ': ' + (st.task === null ? '?' : name + '-' + st.task.id) + ': ' +
          outcomeText(st) + (st.woke.length ? '; wakes ' + st.woke.join(', ') : ''),
        text: st.outcome === 'sleeps' ? 'z' : st.woke.length ? '^' : name.charAt(0) });
      b.style.left = (i * W) + 'px';
      if (st.task !== null) b.style.background = 'hsl(' + hue(st.task.id) + ',65%,' +
        (st.outcome === 'sleeps' ? '80%' : '62%') + ')';
      b.addEventListener('click', function () { showStep(st, b); });
      track.appendChild(b);
    });
    var legend = document.getElementById('lane-tasks');
    var seen = {};
    data.steps.forEach(function (st) {
      if (st.task === null || seen[st.task.id]) return;
      seen[st.task.id] = true;
      var chip = el('span', { className: 'chip', text: st.task.name + '-' + st.task.id });
      chip.style.background = 'hsl(' + hue(st.task.id) + ',65%,62%)';
      legend.appendChild(chip);
    });
  }

  // Charts
  // A fresh object per chart: Chart.js keeps (and fills in) the options it is given.
  function chartOptions(extra) {
    return Object.assign({ animation: false, responsive: false, plugins: { legend: { display: false } } }, extra || {});
  }
  function chart(parent, title, config) {
    var canvas = el('canvas', { width: '320', height: '180' });
    parent.appendChild(el('figure', { className: 'chart' }, [el('figcaption', { text: title }), canvas]));
    return new Chart(canvas, config);
  }
  if (data.metrics) {
    var m = data.metrics;
    var box = document.getElementById('metric-charts');
    document.getElementById('metrics').hidden = false;
    document.getElementById('metric-totals').textContent = m.migrated + ' pages migrated, ' +
      m.failed + ' failed, ' + m.ipis + ' IPIs, ' + m.flushes + ' flushes (' + m.shootdowns +
      ' shootdowns), virtual time ' + (m.virtualTimeNs / 1000).toFixed(1) + ' us';
    var labels = m.series.timeUs.map(function (t) { return t.toFixed(1); });
    [['IPIs', m.series.ipis, '#c05020'], ['TLB flushes', m.series.flushes, '#8040a0'],
      ['pages migrated', m.series.migrated, '#2070b0'], ['pages failed', m.series.failed, '#b02030']]
      .forEach(function (c) {
        chart(box, c[0] + ' over virtual time (us)', { type: 'line', data: { labels: labels,
          datasets: [{ label: c[0], data: c[1], borderColor: c[2], pointRadius: 0, borderWidth: 1.5 }] },
          options: chartOptions() });
      });
    var deltas = m.vmstatDeltas.filter(function (d) { return d[1] !== 0; });
    if (deltas.length > 0) {
      var canvas = el('canvas', { width: '660', height: String(40 + 18 * deltas.length) });
      box.appendChild(el('figure', { className: 'chart wide' }, [el('figcaption', { text: 'vmstat deltas' }), canvas]));
      new Chart(canvas, { type: 'bar', data: { labels: deltas.map(function (d) { return d[0]; }),
        datasets: [{ label: 'delta', data: deltas.map(function (d) { return d[1]; }), backgroundColor: '#4a8a5a' }] },
        options: chartOptions({ indexAxis: 'y' }) });
    }
  }
  if (data.compare) {
    document.getElementById('compare').hidden = false;
    var cbox = document.getElementById('compare-charts');
    var variants = data.compare.map(function (r) { return r.variant; });
    var colors = variants.map(function (v, i) { return 'hsl(' + (210 + 70 * i) % 360 + ',55%,50%)'; });
    [['IPIs', 'ipis'], ['pages per virtual second', 'pagesPerVirtualSecond'],
      ['virtual time (us)', 'virtualTimeNs']].forEach(function (c) {
      chart(cbox, c[0], { type: 'bar', data: { labels: variants, datasets: [{ label: c[0],
        data: data.compare.map(function (r) { return c[1] === 'virtualTimeNs' ? r[c[1]] / 1000 : r[c[1]]; }),
        backgroundColor: colors }] }, options: chartOptions() });
    });
    var table = document.getElementById('compare-table');
    data.compare.forEach(function (r) {
      table.appendChild(el('tr', {}, [r.variant, r.status, String(r.ipis), String(r.flushes),
        String(r.migrated), String(r.failed), (r.virtualTimeNs / 1000).toFixed(1),
        r.pagesPerVirtualSecond.toFixed(0)].map(function (t) { return el('td', { text: t }); })));
    });
  }
  document.body.setAttribute('data-ready', 'yes');
})();
`;
