/**
 * The HTML report in a real browser: Debian's headless Chromium driven by playwright-core opens the page that
 * `sendasapp fleet report --html` wrote from real runs, from a file:// URL. It loads with no console error and no
 * network request, shows every tenant, sorts by a clicked column, filters by status and by typed text (counted in
 * visible rows), highlights the credential inside the warning window, and shows the `<script>` entry name as text.
 * A screenshot is kept in test-artifacts/fleet-report.png.
 *
 * Without Chromium: under CI=true the suite FAILS (.ci/run installs it); elsewhere it is skipped, saying why.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { runCli } from '../helpers/cli.js';
import { makeFleetFixtures, SCRIPT_NAME, type FleetFixtures } from './fixtures.js';

const CHROMIUM = process.env.SENDASAPP_CHROMIUM || '/usr/bin/chromium';
const MISSING_CHROMIUM = `Chromium is not installed at ${CHROMIUM}: \`apt-get install -y chromium\` installs it (.ci/run does)`;
const ARTIFACT = path.resolve('test-artifacts/fleet-report.png');

function describeWithChromium(title: string, body: () => void): void {
  if (existsSync(CHROMIUM)) describe(title, body);
  else if (process.env.CI === 'true')
    describe(title, () => {
      it('has Chromium to run (CI=true: a missing browser is a failure, not a skip)', () => {
        throw new Error(MISSING_CHROMIUM);
      });
    });
  else {
    console.warn(`[${title}] SKIPPED: ${MISSING_CHROMIUM}`);
    describe.skip(`${title}: SKIPPED, ${MISSING_CHROMIUM}`, body);
  }
}

describeWithChromium('the HTML fleet report in headless Chromium', () => {
  let f: FleetFixtures;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  const dialogs: string[] = [];
  let pageUrl: string;

  const rows = () => page.locator('#tenants tbody tr');
  const visibleNames = async (): Promise<string[]> =>
    page.locator('#tenants tbody tr:visible td.name .entry').allTextContents();
  const column = (label: string) => page.locator('#tenants thead th button', { hasText: label });

  beforeAll(async () => {
    f = await makeFleetFixtures();
    const html = path.join(f.dir, 'report.html');
    const r = await runCli(['fleet', 'report', f.oneRun, '--html', html]);
    expect(r.code, r.stderr).toBe(1);
    expect(existsSync(html)).toBe(true);
    pageUrl = pathToFileURL(html).href;
    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(path.join(tmpdir(), 'sendasapp-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
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
      viewport: { width: 1500, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    context.on('request', (req) => requests.push(req.url()));
    await page.goto(pageUrl, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    if (page) {
      mkdirSync(path.dirname(ARTIFACT), { recursive: true });
      await page.screenshot({ path: ARTIFACT, fullPage: true });
    }
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('loads from file:// with no console error and no request beyond the page itself', async () => {
    await expect.poll(() => page.locator('#shown').textContent()).toBe('5 of 5 tenants shown');
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([pageUrl]);
  });

  it('shows every tenant of the run, and the summary chart with a bar per outcome', async () => {
    expect(await rows().count()).toBe(5);
    expect((await visibleNames()).sort()).toEqual(Object.keys(f.lines).sort());
    const bars = await page.locator('#chart g.bar').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-outcome')));
    expect(bars.sort()).toEqual(['bad-input', 'ok', 'waiting']);
  });

  it('renders the entry name holding <script> as text: no script element, no dialog', async () => {
    const cell = page.locator('#tenants td.name .entry', { hasText: 'Woodgrove' });
    expect(await cell.textContent()).toBe(SCRIPT_NAME);
    expect(await page.locator('#tenants script').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('sorts by a column when its header is clicked, and reverses on the second click', async () => {
    const names = Object.keys(f.lines);
    const asc = [...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    await column('Tenant').click();
    expect(await visibleNames()).toEqual(asc);
    await column('Tenant').click();
    expect(await visibleNames()).toEqual([...asc].reverse());
    // By credential expiry: the 20-day secret first.
    await column('Credential expiry').click();
    expect((await visibleNames())[0]).toBe(SCRIPT_NAME);
    // By status: what needs attention first (bad input, then waiting, then ok).
    await column('Status').click();
    const outcomes = await page
      .locator('#tenants tbody tr:visible')
      .evaluateAll((rs) => rs.map((r) => r.getAttribute('data-outcome')));
    expect(outcomes).toEqual(['bad-input', 'waiting', 'ok', 'ok', 'ok']);
  });

  it('filters by status and by typed text, counting the rows left visible', async () => {
    await page.selectOption('#status-filter', 'ok');
    expect(await page.locator('#tenants tbody tr:visible').count()).toBe(3);
    expect(await page.locator('#shown').textContent()).toBe('3 of 5 tenants shown');
    await page.selectOption('#status-filter', 'waiting');
    expect(await visibleNames()).toEqual(['Tailspin Toys']);
    await page.selectOption('#status-filter', '');
    await page.locator('#search').fill('');
    await page.locator('#search').pressSequentially('nobody@north');
    expect(await visibleNames()).toEqual(['Northwind']);
    // Both at once: a waiting tenant with that text does not exist.
    await page.selectOption('#status-filter', 'waiting');
    expect(await page.locator('#tenants tbody tr:visible').count()).toBe(0);
    await page.selectOption('#status-filter', '');
    await page.locator('#search').fill('');
    expect(await page.locator('#tenants tbody tr:visible').count()).toBe(5);
  });

  it('highlights the credential that ends inside the 30-day window, and only that one', async () => {
    const warned = page.locator('#tenants tbody tr td.expiry.warn');
    expect(await warned.count()).toBe(1);
    const row = page.locator('#tenants tbody tr.expiring td.name .entry');
    expect(await row.textContent()).toBe(SCRIPT_NAME);
    const background = await warned.evaluate((td) => (globalThis as any).getComputedStyle(td).backgroundColor);
    const plain = await page
      .locator('#tenants tbody tr:not(.expiring) td.expiry')
      .first()
      .evaluate((td) => (globalThis as any).getComputedStyle(td).backgroundColor);
    expect(background).not.toBe(plain);
    expect(await warned.textContent()).toMatch(
      /⚠ secret \d{4}-\d\d-\d\d: 19 days left|⚠ secret \d{4}-\d\d-\d\d: 20 days left/,
    );
  });
});
