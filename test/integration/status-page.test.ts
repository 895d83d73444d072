/**
 * The status page as a person sees it: headless Chromium (Debian's, driven by playwright-core)
 * loads the admin port of a router in front of the real stack — rw with its replica r1 in session
 * mode, and fed — while a client keeps calling both metastores. The page must show both
 * metastores, the replica with its lag, the routes, and non-zero call rates once it has refreshed.
 * A screenshot is written to .work/artifacts/status-page.png (git-ignored) for a human to check.
 *
 * Also on the real stack: a replica MySQL with a wrong password shows as down on /backends and on
 * the page with the server's own error, and the password appears in no response and no log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { status } from '../../stack/stack';
import { REPO_ROOT } from '../../stack/layout';
import { HmsTestClient, args } from '../support/hms-test-client';
import { startTestRouter, TestRouter } from '../support/router-harness';
import type { BackendsView } from '../../src/admin/backends-view';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, '.work', 'artifacts');
const ADMIN_TOKEN = 'status-page-token-3f9a61c2';

const stack = status();
const stamp = Date.now();
const FED_DB = `fed_status_${stamp}`;
const RW_DB = `rw_status_${stamp}`;

function routerConfig(replicaPassword = stack.routerMysqlUser.password) {
  const mysql = (port: number, password: string) => ({ host: '127.0.0.1', port, user: stack.routerMysqlUser.user, password });
  return {
    admin: { port: 0, token: ADMIN_TOKEN },
    metastores: {
      rw: {
        primary: { endpoints: [`127.0.0.1:${stack.metastores.rw.port}`], mysql: mysql(stack.mysql.primary.port, stack.routerMysqlUser.password) },
        replicas: [{ name: 'r1', endpoints: [`127.0.0.1:${stack.metastores.ro.port}`], mysql: mysql(stack.mysql.replica.port, replicaPassword) }],
        consistency: { mode: 'session', maxWaitMs: 300, pollIntervalMs: 200 },
      },
      fed: { primary: { endpoints: [`127.0.0.1:${stack.metastores.fed.port}`] } },
    },
    defaultMetastore: 'rw',
    routing: { routes: [{ glob: 'fed_*', metastore: 'fed' }] },
  };
}

/** Debian's Chromium, installed by the project's own script when missing (as CI does). */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: 'inherit', timeout: 600_000 });
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is still missing after scripts/ensure-chromium.sh`);
}

/** Headless, with the flags this machine's closed network needs, on a new empty profile. */
function launchBrowser(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'hms-router-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** Opens the admin root (which redirects to /status); page script errors fail the test. */
async function openStatusPage(browser: BrowserContext, router: TestRouter): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  await page.goto(`http://127.0.0.1:${router.adminPort}/`);
  expect(new URL(page.url()).pathname).toBe('/status');
  return { page, errors };
}

let browser: BrowserContext;

beforeAll(async () => {
  ensureChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchBrowser();
});

afterAll(async () => { await browser?.close(); });

describe('status page in headless Chromium', () => {
  let router: TestRouter;

  beforeAll(async () => {
    router = await startTestRouter(routerConfig());
    const client = await HmsTestClient.connect(router.port);
    await client.success('create_database', args.createDatabase(FED_DB, `${stack.warehouse}/fed/${FED_DB}.db`));
    await client.success('create_database', args.createDatabase(RW_DB, `${stack.warehouse}/${RW_DB}.db`));
    client.close();
  });

  afterAll(async () => {
    const client = await HmsTestClient.connect(router.port);
    await client.call('drop_database', args.dropDatabase(FED_DB));
    await client.call('drop_database', args.dropDatabase(RW_DB));
    client.close();
    await router?.close();
  });

  it('shows both metastores, the replica and its lag, the routes, and live call rates', async () => {
    // Traffic on both metastores while the page refreshes: reads of rw (served by r1) and fed.
    let calling = true;
    const traffic = (async () => {
      const client = await HmsTestClient.connect(router.port);
      for (let i = 0; calling && i < 2000; i++) {
        await client.success('get_database', args.name(i % 2 === 0 ? RW_DB : FED_DB));
        await new Promise((r) => setTimeout(r, 20));
      }
      client.close();
    })();
    try {
      const { page, errors } = await openStatusPage(browser, router);
      const rw = page.locator('[data-metastore="rw"]');
      const fed = page.locator('[data-metastore="fed"]');
      await rw.waitFor();
      await fed.waitFor();
      await expect.poll(() => rw.locator('.card-head').innerText()).toMatch(/rw[\s\S]*default[\s\S]*read-write[\s\S]*consistency session/);
      expect(await fed.locator('.card-head').innerText()).toMatch(/fed[\s\S]*read-write[\s\S]*consistency session/);
      expect(await rw.locator('[data-endpoint]').first().innerText()).toContain(`127.0.0.1:${stack.metastores.rw.port}`);
      expect(await fed.locator('[data-endpoint]').first().innerText()).toMatch(/healthy/);

      // The replica, its lag in transactions (known once reads took a token) and in seconds.
      const replica = rw.locator('[data-replica="r1"]');
      await expect.poll(() => replica.locator('[data-field="lag-transactions"]').innerText(), { timeout: 15_000 }).toMatch(/^\d[\d,]*$/);
      expect(await replica.locator('[data-field="lag-seconds"]').innerText()).toMatch(/^\d[\d,]*$/);
      expect(await replica.innerText()).toContain(`127.0.0.1:${stack.mysql.replica.port}`);
      expect(await replica.innerText()).toMatch(/yes/);

      // The routes: the fed_* glob, then the default.
      const route = page.locator('[data-route="0"]');
      expect(await route.innerText()).toMatch(/glob[\s\S]*fed_\*[\s\S]*fed/);
      expect(await page.locator('[data-route="default"]').innerText()).toContain('rw');

      // Rates need two samples: wait for a refresh, then a rate above zero on each metastore.
      const rate = async (card: typeof rw) => Number(await card.locator('[data-field="call-rate"]').getAttribute('data-rate') || 0);
      await expect.poll(() => rate(rw), { timeout: 15_000 }).toBeGreaterThan(0);
      await expect.poll(() => rate(fed), { timeout: 15_000 }).toBeGreaterThan(0);
      expect(Number(await page.locator('body').getAttribute('data-refreshes'))).toBeGreaterThanOrEqual(2);
      expect(await rw.locator('[data-field="call-rate"]').innerText()).toMatch(/^[\d.,]+\/s$/);
      // Reads of rw go to the caught-up replica: the share is shown as a percentage.
      await expect.poll(() => rw.locator('[data-field="replica-share"]').innerText(), { timeout: 10_000 }).toMatch(/^[1-9]\d* %$/);

      await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      calling = false;
      await traffic;
    }
  });
});

describe('a replica MySQL with a wrong password, on the real stack', () => {
  const WRONG_PASSWORD = 'wrong-pw-81d7c4e05b';
  let router: TestRouter;

  beforeAll(async () => { router = await startTestRouter(routerConfig(WRONG_PASSWORD)); });
  afterAll(async () => { await router?.close(); });

  it('shows the replica down with the server\'s error; the password and token appear nowhere', async () => {
    const client = await HmsTestClient.connect(router.port);
    await client.success('get_database', args.name('default'));
    client.close();
    const admin = (path: string) => fetch(`http://127.0.0.1:${router.adminPort}${path}`).then((r) => r.text());
    const backendsText = await admin('/backends');
    const view = JSON.parse(backendsText) as BackendsView;
    const r1 = view.metastores.find((m) => m.name === 'rw')!.replicas[0]!;
    expect(r1).toMatchObject({ name: 'r1', healthy: false, mysql: { address: `127.0.0.1:${stack.mysql.replica.port}`, healthy: false } });
    expect(r1.mysql.error).toMatch(/Access denied/);
    expect(await router.metric('hms_router_calls_total', { method: 'get_database', role: 'primary' })).toBe(1);

    const bodies = [backendsText, await admin('/routing'), await admin('/stats'), await admin('/metrics'), await admin('/status')];
    const logs = router.logs.map((l) => JSON.stringify(l));
    expect(logs.some((l) => l.includes('Access denied'))).toBe(true);
    for (const text of [...bodies, ...logs]) {
      expect(text).not.toContain(WRONG_PASSWORD);
      expect(text).not.toContain(ADMIN_TOKEN);
    }

    // The page says so too.
    const { page, errors } = await openStatusPage(browser, router);
    const replica = page.locator('[data-metastore="rw"] [data-replica="r1"]');
    await replica.waitFor();
    expect(await replica.innerText()).toMatch(/\bno\b[\s\S]*Access denied/);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-replica-down.png'), fullPage: true });
    expect(await page.content()).not.toContain(WRONG_PASSWORD);
    expect(errors).toEqual([]);
    await page.close();
  });
});
