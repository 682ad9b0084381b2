import { describe, expect, test } from 'vitest';
import { campaignCellName, campaignGuarantees, renderCampaignReport } from '../src/index.js';
import { campaignFixture } from './campaign-fixtures.js';

const escapeText = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

describe('renderCampaignReport: the campaign as one offline page', () => {
  const data = campaignFixture();
  const html = renderCampaignReport(data);

  test('has a table row for every cell and the totals', () => {
    for (const c of data.cells) {
      expect(html.includes(`data-cell="${escapeText(campaignCellName(c))}"`)).toBe(true);
    }
    expect(html.match(/<tr[ >]/g)?.length).toBe(data.cells.length + 1);
    expect(html.includes('337 schedules in 4 cells: 2 finding(s), 1 step-limit run(s)')).toBe(true);
    expect(html.includes('<canvas id="rate-chart"')).toBe(true);
  });

  test('escapes names, messages and replay commands', () => {
    expect(!html.includes('<img src=x')).toBe(true);
    expect(html.includes('&lt;img src=x onerror=alert(1)&gt;&amp;co')).toBe(true);
    expect(html.includes('&lt;frame 12&gt; leaked')).toBe(true);
    expect(html.includes('<pre class="replay">mmsim replay \'mm1:abc&lt;def&gt;\'</pre>')).toBe(
      true,
    );
    expect(html.includes('mmsim replay mm1:step&amp;limit')).toBe(true);
    // The embedded JSON cannot close its script element.
    const json = /<script type="application\/json" id="mmsim-campaign">([\s\S]*?)<\/script>/.exec(
      html,
    );
    expect(json?.[1]).not.toContain('<');
    expect(JSON.parse(json?.[1] as string)).toEqual(data);
  });

  test('lists the guarantees: the exhausted DPOR cell and the PCT bound', () => {
    const lines = campaignGuarantees(data);
    expect(lines).toContain(
      'loop-bh-deadlock@v6.3/dpor:2: exhausted — every schedule up to preemption bound 2 explored, 37 execution(s), no finding',
    );
    expect(
      lines.find((l) =>
        l.startsWith('rfc-lock-order@v6.3-rc1/pct: pct guarantee: a bug of depth 3'),
      ),
    ).toBeDefined();
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(html.includes(`<li>${escapeText(l)}</li>`)).toBe(true);
  });

  test('names the interleaving classes a DPOR cell covered, and an upper bound as one', () => {
    const dpor = data.cells.find((c) => c.strategy === 'dpor:2')!;
    const withClasses = (extra: object) =>
      campaignGuarantees({ ...data, cells: [{ ...dpor, ...extra }] })[0];
    expect(withClasses({ classes: 21 })).toBe(
      'loop-bh-deadlock@v6.3/dpor:2: exhausted — every schedule up to preemption bound 2 explored, 37 execution(s) covering 21 interleaving classes, no finding',
    );
    expect(withClasses({ classes: 21, classesAtMost: true })).toContain(
      '37 execution(s) covering at most 21 interleaving classes, no finding',
    );
    expect(withClasses({ classes: null })).not.toContain('covering');
  });

  test('loads nothing from the network: no external URL in a src or href', () => {
    expect(html).not.toMatch(/\s(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    expect(html).not.toMatch(/<link[^>]+stylesheet/i);
    expect(html.includes('Chart.js (MIT), inlined')).toBe(true);
  });
});
