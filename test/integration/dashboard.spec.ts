// `kvc dashboard` in a real browser (Debian's chromium, driven by puppeteer-core) on a real cluster:
// the page shows the four replicas; after `pm2 stop replica-3` every other replica marks it DOWN
// within 2 x down_after_ms; puts raise the hints count, plot their rate and p99, and a traced slow
// one shows its trace with the hint stored; after `pm2 start replica-3` it recovers.
// The browser, the dashboard and the cluster are closed even when the test fails.
import { expect } from 'chai';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { startDashboard, type Dashboard } from '../../src/cli/dashboard.js';
import { Cluster, downAfterMs, replicaNames, sleep } from './harness.js';

const chromium = '/usr/bin/chromium';
/** The page lags the cluster by at most one poll (1 s) and one SSE frame. */
const pageLagMs = 1_500;

async function cells(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (els) => els.map((e) => e.getAttribute('data-state') ?? ''));
}

async function waitForPage(page: Page, what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error(`page: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}

describe('kvc dashboard in a real browser', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let dashboard: Dashboard | undefined;
  let browser: Browser | undefined;

  before(async function () {
    if (!existsSync(chromium)) this.skip(); // .ci/run installs it
    cluster = await Cluster.start({ slowRequestMs: 1 }); // every put fsyncs: each is a slow request
    dashboard = await startDashboard({ configPath: cluster.configPath, port: 0 });
    browser = await puppeteer.launch({
      executablePath: chromium, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await dashboard?.close().catch(() => {});
    await cluster?.teardown();
  });

  it('shows a stopped replica DOWN from every survivor\'s view within 2 x down_after_ms, the hints for it rising, and its recovery', async () => {
    const page = await browser!.newPage();
    await page.setViewport({ width: 1200, height: 1100 });
    await page.goto(dashboard!.url);
    await waitForPage(page, 'all four replicas UP', async () => (await cells(page, '[data-replica]')).join() === 'UP,UP,UP,UP', 10_000);
    expect(await page.$$eval('[data-replica]', (els) => els.map((e) => e.getAttribute('data-replica')))).to.deep.equal([...replicaNames]);

    await cluster!.stop('replica-3');
    const stoppedAt = Date.now();
    await waitForPage(page, 'replica-3 DOWN from every survivor', async () =>
      (await cells(page, '[data-subject="replica-3"]')).join() === 'DOWN,DOWN,DOWN', 2 * downAfterMs + pageLagMs + 5_000);
    const elapsed = Date.now() - stoppedAt;
    expect(elapsed, `replica-3 shown DOWN after ${elapsed} ms`).to.be.at.most(2 * downAfterMs + pageLagMs);
    expect(await cells(page, '[data-replica="replica-3"]')).to.deep.equal(['DOWN']);
    expect(await page.$$eval('[data-alarm]', (els) => els.map((e) => e.textContent))).to.include('replica-3 DOWN (seen by replica-1, replica-2, replica-4)');
    expect(await page.$$eval('[data-short-range]', (els) => els.map((e) => e.getAttribute('data-health')))).to.deep.equal(['short', 'short', 'short']);

    const hintsBefore = Number(await page.$eval('#hints-total', (e) => e.textContent));
    const client = await cluster!.client('replica-1');
    // 0..63 is replicated on replica-3: each put stores a hint for it. Traced, so the slowest are shown with their traces.
    const sessions: string[] = [];
    for (const key of [1, 2, 3, 4, 5]) sessions.push((await client.put(key, `v${key}`, 'QUORUM', { trace: true })).trace!.session);
    await waitForPage(page, 'the hints count to rise by 5', async () => Number(await page.$eval('#hints-total', (e) => e.textContent)) >= hintsBefore + 5, 5_000);
    const shown = async () => page.$$eval('[data-trace-replica="replica-1"]', (els) => els.map((e) => [e.getAttribute('data-trace') ?? '', e.textContent ?? '']));
    await waitForPage(page, 'replica-1\'s newest slow traced put and its trace', async () => (await shown()).some(([id]) => sessions.includes(id!)), 5_000);
    const trace = (await shown()).find(([id]) => sessions.includes(id!))![1]!;
    expect(trace).to.contain('hint stored for replica-3 (it is DOWN)');
    expect(trace).to.match(/ Request complete +\| /);
    expect(await page.$$eval('[data-slow="replica-1"]', (els) => els.length)).to.be.at.least(1);
    for (const plot of ['#plot-req', '#plot-p99']) {
      await waitForPage(page, `points on ${plot}`, async () => Number(await page.$eval(plot, (e) => e.getAttribute('data-points'))) > 0, 5_000);
      expect(await page.$$(`${plot} canvas`), `${plot} drawn by uPlot`).to.have.length.greaterThan(0);
    }
    const shots = mkdtempSync(join(tmpdir(), 'ringkv-dashboard-'));
    await page.screenshot({ path: join(shots, 'replica-3-stopped.png'), fullPage: true });
    console.log(`    screenshot: ${join(shots, 'replica-3-stopped.png')}`);

    await cluster!.start('replica-3');
    await waitForPage(page, 'replica-3 UP again everywhere', async () =>
      (await cells(page, '[data-subject="replica-3"]')).join() === 'UP,UP,UP' && (await cells(page, '[data-replica="replica-3"]')).join() === 'UP', 20_000);
    await waitForPage(page, 'the hints replayed', async () => Number(await page.$eval('#hints-total', (e) => e.textContent)) === 0, 20_000);
  });
});
