import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ReportData, renderReport } from '../../src/index.js';
import { compareReport, deadlockReport, runReport } from '../report-fixtures.js';

/**
 * The report in a real browser: Debian's Chromium, headless, driven by playwright-core.
 * `.ci/run` installs it; without it this project fails (it is never skipped).
 */
const CHROMIUM = process.env.MMSIM_CHROMIUM ?? '/usr/bin/chromium';
const INSTALL =
  'apt-get update && apt-get install -y --no-install-recommends chromium (as .ci/run does), ' +
  'or set MMSIM_CHROMIUM to a Chromium binary';

const dir = mkdtempSync(join(tmpdir(), 'mmsim-report-browser-'));
let browser: BrowserContext | null = null;
const missing = existsSync(CHROMIUM)
  ? null
  : `the report's browser tests need Chromium at ${CHROMIUM}; install it: ${INSTALL}`;

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

/** The browser, or a failure that says how to install it (each test fails, none is skipped). */
function theBrowser(): BrowserContext {
  if (missing !== null || browser === null) throw new Error(missing ?? 'Chromium did not start');
  return browser;
}

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a report; collects console errors, page errors and any request that leaves the file. */
async function open(data: ReportData, name: string) {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, renderReport(data));
  const page: Page = await theBrowser().newPage();
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
  // The graph is laid out asynchronously: wait until it is drawn (or there is none).
  await page.waitForSelector('body[data-graph]');
  return { page, errors, requests };
}

test('Chromium is installed where the tests look for it', () => {
  expect(missing).toBeNull();
});

describe('a deadlock report in Chromium', () => {
  const data = deadlockReport();

  test('loads with no console error and fetches nothing', async () => {
    const { page, errors, requests } = await open(data, 'deadlock');
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.locator('body').getAttribute('data-graph')).toBe('ready');
    await page.close();
  });

  test('draws one node per task of the wait-for cycle, with what it holds and waits for', async () => {
    const { page } = await open(data, 'deadlock-graph');
    const tasks = data.cycle?.tasks ?? [];
    expect(tasks.length).toBeGreaterThanOrEqual(2);
    const nodes = page.locator('#cycle-graph .task-node');
    expect(await nodes.count()).toBe(tasks.length);
    for (const task of tasks) {
      const text = await page.locator(`.task-node[data-task="${task.id}"]`).textContent();
      expect(text).toContain(`${task.name}-${task.id}`);
      expect(text).toContain(`sleeps in ${task.waitsIn}()`);
      expect(text).toContain(`waits for ${task.waitsFor}`);
      for (const held of task.holds) expect(text).toContain(`holds ${held}`);
    }
    expect(await page.locator('#cycle-graph .cycle-edge').count()).toBe(data.cycle?.edges.length);
    await page.close();
  });

  test('has a lane per CPU, each step in the lane of its CPU', async () => {
    const { page } = await open(data, 'deadlock-lanes');
    expect(await page.locator('.lane').count()).toBe(data.cpus.length);
    for (const step of data.steps) {
      const lane = page.locator(
        `.lane[data-cpu="${step.task?.cpu}"] .step[data-step="${step.step}"]`,
      );
      expect(await lane.count()).toBe(1);
    }
    await page.close();
  });

  test('clicking a step shows its details: task, outcome, locks and tracepoints', async () => {
    const { page } = await open(data, 'deadlock-click');
    const sleeper = data.steps.filter((s) => s.outcome === 'sleeps').at(-1);
    const busy = data.steps.find((s) => s.events.length > 0);
    for (const step of [sleeper, busy]) {
      if (step === undefined || step.task === null) throw new Error('no such step');
      await page.locator(`.step[data-step="${step.step}"]`).click();
      const details = (await page.locator('#details').textContent()) ?? '';
      expect(details).toContain(
        `Step ${step.step}: ${step.task.name}-${step.task.id} on CPU ${step.task.cpu}`,
      );
      if (step.outcome === 'sleeps') expect(details).toContain(`sleeps in ${step.waitsIn}()`);
      for (const lock of step.took) expect(details).toContain(lock);
      for (const e of step.events) expect(details).toContain(`${e.name}: ${e.text}`);
    }
    await page.close();
  });
});

describe('a run report and a comparison in Chromium', () => {
  const runReportData = runReport();
  test('a run without a finding draws its counters and vmstat deltas as charts', async () => {
    const { page, errors } = await open(runReportData, 'run');
    expect(errors).toEqual([]);
    expect(await page.locator('body').getAttribute('data-graph')).toBe('none');
    expect(await page.locator('#metrics').isVisible()).toBe(true);
    // IPIs, flushes, migrated, failed over virtual time, and the vmstat deltas.
    expect(await page.locator('#metric-charts canvas').count()).toBe(5);
    // The vmstat deltas are horizontal bars: one category per counter on the y axis.
    const axes = await page.evaluate(
      '(() => { const c = Object.values(Chart.instances).at(-1); return [c.scales.y.type, c.data.labels.length]; })()',
    );
    const data = runReportData;
    expect(axes).toEqual([
      'category',
      data.metrics?.vmstatDeltas.filter(([, v]) => v !== 0).length,
    ]);
    expect(await page.locator('.lane').count()).toBe(5);
    await page.close();
  });

  test('compare draws the variants side by side', async () => {
    const data = compareReport();
    const { page, errors } = await open(data, 'compare');
    expect(errors).toEqual([]);
    expect(await page.locator('#compare-charts canvas').count()).toBe(3);
    expect(await page.locator('#compare-table tr').count()).toBe(data.compare?.length);
    await page.close();
  });
});
