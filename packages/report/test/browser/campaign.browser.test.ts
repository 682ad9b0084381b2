import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { campaignCellName, renderCampaignReport } from '../../src/index.js';
import { campaignFixture } from '../campaign-fixtures.js';

/** The campaign page in Debian's headless Chromium (as report.browser.test.ts opens reports). */
const CHROMIUM = process.env.MMSIM_CHROMIUM ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'mmsim-campaign-browser-'));
let browser: BrowserContext | null = null;
const missing = existsSync(CHROMIUM)
  ? null
  : `the campaign page's browser tests need Chromium at ${CHROMIUM} (apt-get install chromium, or set MMSIM_CHROMIUM)`;

beforeAll(async () => {
  if (missing !== null) return;
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  if (missing !== null || browser === null) throw new Error(missing ?? 'Chromium did not start');
  const file = join(dir, 'campaign.html');
  writeFileSync(file, renderCampaignReport(campaignFixture()));
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
  });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-ready="yes"]');
  return { page, errors, requests };
}

describe('the campaign page in Chromium', () => {
  const data = campaignFixture();

  test('loads with no console error, fetches nothing, renders every cell and the chart', async () => {
    const { page, errors, requests } = await open();
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    const rows = page.locator('#cells tbody tr');
    expect(await rows.count()).toBe(data.cells.length);
    for (const c of data.cells) {
      expect(await page.locator(`#cells tr[data-cell="${campaignCellName(c)}"]`).count()).toBe(1);
    }
    // The script-escaped name shows as text, and no element came from it.
    expect(await page.locator('img').count()).toBe(0);
    const canvas = page.locator('canvas#rate-chart');
    expect(await canvas.count()).toBe(1);
    // Chart.js attached a chart to the canvas and drew it.
    // (A string: the test's TypeScript has no DOM types.)
    const drawn = (await page.evaluate(
      "(() => { const c = Chart.getChart(document.getElementById('rate-chart')); return c ? c.data.labels : null; })()",
    )) as string[] | null;
    expect(drawn).toEqual(data.cells.map(campaignCellName));
    await page.close();
  });

  test('a click on a header sorts the table by that column, a second click reverses it', async () => {
    const { page } = await open();
    const rate = page.locator('#cells thead th', { hasText: 'schedules/s' });
    const order = () =>
      page
        .locator('#cells tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-cell')));
    const byRate = [...data.cells]
      .sort((a, b) => (a.schedulesPerSecond ?? -1) - (b.schedulesPerSecond ?? -1))
      .map(campaignCellName);
    await rate.click();
    expect(await order()).toEqual(byRate);
    expect(await rate.getAttribute('aria-sort')).toBe('ascending');
    await rate.click();
    expect(await order()).toEqual([...byRate].reverse());
    const scenario = page.locator('#cells thead th', { hasText: /^scenario$/ });
    await scenario.click();
    const byName = [...data.cells]
      .map((c) => ({ s: c.scenario, n: campaignCellName(c) }))
      .sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
    expect(
      (await order()).map((n) => data.cells.find((c) => campaignCellName(c) === n)?.scenario),
    ).toEqual(byName.map((x) => x.s));
    await page.close();
  });
});
