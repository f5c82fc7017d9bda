// The hosted Link journey as a business customer meets it: headless Debian Chromium driving
// finlink's pages, the built-in sandbox platform, and an independent authorization server
// (panva's oidc-provider) registered as a custom integration from the configuration file.
//
// Every page is screenshotted into e2e/artifacts/ and checked with axe-core (no serious or
// critical violations). Figures (time from opening the link to landing on the application's
// redirect URL, page weights) are printed as `FIGURE ...` lines and written to
// e2e/artifacts/figures.json.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import {
  ARTIFACTS_DIR, E2E_DIR, formatViolations, launchBrowser, newPage, recordNetwork, runAxe, screenshot,
} from '../lib/browser.mjs';
import { FINLINK_READY_RE, spawnAndWait } from '../lib/process.mjs';
import { completeDevInteractions, startOidcServer } from '../lib/oidc.mjs';

const FINLINK_BIN = process.env.FINLINK_BIN || path.resolve(E2E_DIR, '../target/debug/finlink');
const figures = {};

function figure(name, value) {
  figures[name] = value;
  process.stderr.write(`FIGURE ${name} ${JSON.stringify(value)}\n`);
}

/** A tiny "application" that receives Link's redirect. */
async function startApp() {
  const landings = [];
  const server = http.createServer((req, res) => {
    // Only Link's redirects count as landings (not the baseline's loads, nor the favicon
    // request Chromium makes after any page).
    if (req.url.startsWith('/linked/')) landings.push({ url: new URL(req.url, 'http://x'), at: performance.now() });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>Back in the app</title><main><h1>Back in the app</h1></main></html>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, landings, close: () => new Promise((r) => server.close(r)) };
}

/** Starts `finlink serve` on a free port with a config file; returns its URL and API key. */
async function startFinlink(configToml, name = 'finlink') {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'finlink-e2e-'));
  const config = path.join(dir, 'finlink.toml');
  await writeFile(config, configToml);
  const proc = await spawnAndWait(FINLINK_BIN, ['serve', '--listen', '127.0.0.1:0', '--config', config], {
    name,
    ready: FINLINK_READY_RE,
    timeoutMs: 30_000,
    env: { FINLINK_DATA_DIR: dir, FINLINK_LOG: 'warn', FINLINK_LOG_FORMAT: 'json' },
  });
  const base = proc.match[1];
  const key = proc.stdoutLines.map((l) => l.trim()).find((l) => /^[A-Za-z0-9]{40,}$/.test(l));
  assert.ok(key, `finlink printed its first API key:\n${proc.stdoutLines.join('\n')}`);
  return { base, key, proc, stop: () => proc.stop() };
}

function api(fl) {
  const auth = `Basic ${Buffer.from(fl.key).toString('base64')}`;
  return async (method, p, body, headers = {}) => {
    const res = await fetch(fl.base + p, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: res.status, json };
  };
}

/** Screenshot + axe (serious/critical) for the page as it is now. */
async function check(page, name) {
  await page.waitForLoadState('load');
  await screenshot(page, name);
  const violations = await runAxe(page);
  assert.equal(violations.length, 0, `axe on ${name} (${page.url()}):\n${formatViolations(violations)}`);
}

/** The page's weight: every byte Chromium transferred for the document and its subresources. */
async function weigh(page, url, name) {
  const rec = await recordNetwork(page);
  await page.goto(url);
  await page.waitForLoadState('load');
  const entries = await rec.stop();
  const origin = new URL(url).origin;
  const external = entries.filter((e) => !e.url.startsWith(origin) && !e.url.startsWith('data:'));
  const bytes = entries.reduce((n, e) => n + (e.bytes || 0), 0);
  figure(`weight.${name}`, { bytes, requests: entries.length, external: external.map((e) => e.url) });
  assert.deepEqual(external.map((e) => e.url), [], `${name} made no external requests`);
  assert.ok(bytes < 100 * 1024, `${name} weighs ${bytes} bytes (< 100 kB)`);
  return bytes;
}

describe('hosted Link in Chromium', () => {
  let browser; let fl; let call; let app; let idp;

  before(async () => {
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    app = await startApp();
    idp = await startOidcServer({
      clientId: 'finlink-e2e',
      clientSecret: 'oidc-e2e-secret',
      redirectUri: 'http://127.0.0.1:1/link/oauth/callback',
      loopbackAnyPort: true,
      orgName: 'Oidc Test Org',
    });
    fl = await startFinlink(`
[integrations.pqsw]
enabled = true

[integrations.fztf]
client_id = "shopify-e2e"
client_secret = "shopify-e2e-secret"

[[custom_integrations]]
key = "oidc"
slug = "oidc-books"
name = "Oidc Books"
source_type = "Accounting"
auth_type = "oauth2"
brand_color = "#0F766E"
[custom_integrations.oauth]
authorize_url = "${idp.metadata.authorization_endpoint}"
token_url = "${idp.metadata.token_endpoint}"
revoke_url = "${idp.metadata.revocation_endpoint}"
identity_url = "${idp.metadata.userinfo_endpoint}"
scopes = ["openid", "offline_access", "profile"]
client_auth = "client_secret_basic"
pkce = true
rotating_refresh_tokens = true
# oidc-provider adds iss to its callback (RFC 9207); kept as a connection setting, the way
# QuickBooks' realmId is.
callback_params = ["iss"]
[[custom_integrations.fields]]
name = "accessToken"
label = "Access token"
kind = "credential"
secret = true
required = true
[[custom_integrations.fields]]
name = "refreshToken"
label = "Refresh token"
kind = "credential"
secret = true
[[custom_integrations.fields]]
name = "organizationId"
label = "Organisation id"
kind = "setting"

[integrations.oidc]
client_id = "finlink-e2e"
client_secret = "oidc-e2e-secret"
`);
    call = api(fl);
    const profile = await call('PUT', '/profile', {
      name: "Bob's Burgers",
      redirectUrl: `${app.origin}/linked/{companyId}`,
      whiteListUrls: [app.origin],
      confirmCompanyName: true,
      primaryColor: '#B91C1C',
      supportEmail: 'help@bobs-burgers.example',
    });
    assert.equal(profile.status, 200, JSON.stringify(profile.json));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await fl?.stop();
    await idp?.stop();
    await app?.close();
    await writeFile(path.join(ARTIFACTS_DIR, 'figures.json'), JSON.stringify(figures, null, 2));
  });

  /** A company made as an Apideck consumer (so Vault's validate can refresh its token). */
  async function consumerCompany(name) {
    const consumerId = `e2e-${Math.random().toString(36).slice(2, 10)}`;
    const res = await call('POST', '/vault/consumers', { consumer_id: consumerId, metadata: { account_name: name } },
      { 'x-apideck-app-id': 'e2e' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return { id: res.json.data.company_id, consumerId };
  }

  async function connection(companyId, platformKey) {
    const res = await call('POST', `/companies/${companyId}/connections`, { platformKey });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json;
  }

  async function connectionStatus(companyId, id) {
    const res = await call('GET', `/companies/${companyId}/connections/${id}`);
    return res.json;
  }

  async function validate(consumerId, serviceId) {
    return call('POST', `/vault/connections/accounting/${serviceId}/validate`, undefined,
      { 'x-apideck-app-id': 'e2e', 'x-apideck-consumer-id': consumerId });
  }

  /** Waits until the app's redirect endpoint has been hit `n` times. */
  async function landing(n) {
    for (let i = 0; i < 200 && app.landings.length < n; i += 1) await new Promise((r) => setTimeout(r, 25));
    assert.ok(app.landings.length >= n, 'the browser landed on the application');
    return app.landings[n - 1];
  }

  test('English: linkUrl → sandbox consent → confirm the company → back to the app; the token refreshes', async () => {
    const company = await consumerCompany('Acme Trading Ltd');
    const conn = await connection(company.id, 'mqjo');
    const page = await newPage(browser, { locale: 'en-GB' });
    // Baseline, same browser, same run: the journey's five document loads (consent, confirm
    // after the callback, hand-over, the app) as plain GETs of a static page.
    await page.goto(`${app.origin}/baseline/warm`);
    const b0 = performance.now();
    for (let i = 0; i < 5; i += 1) await page.goto(`${app.origin}/baseline/${i}`);
    figure('link.baseline.five_static_loads_ms', Math.round(performance.now() - b0));
    const seen = app.landings.length;

    const t0 = performance.now();
    await page.goto(conn.linkUrl);
    await page.waitForSelector('input[name="company_name"]');
    const t1 = performance.now();
    await page.fill('input[name="company_name"]', 'Acme Trading Ltd');
    await page.click('button[value="approve"]');
    await page.waitForSelector('text=Is this the company you meant to connect?');
    const t2 = performance.now();
    assert.match(await page.textContent('.found-name'), /Acme Trading Ltd/);
    const confirmUrl = page.url();
    await page.click('button[value="yes"]');
    await page.waitForURL(`${app.origin}/linked/**`);
    const t3 = performance.now();
    const land = await landing(seen + 1);
    figure('link.en.open_to_redirect_ms', Math.round(t3 - t0));
    figure('link.en.browser_steps_ms', { toConsent: Math.round(t1 - t0), approveToConfirm: Math.round(t2 - t1), confirmToApp: Math.round(t3 - t2) });

    assert.equal(land.url.pathname, `/linked/${company.id}`);
    assert.equal(land.url.searchParams.get('statusCode'), '200');
    assert.equal(land.url.searchParams.get('connectionId'), conn.id);
    const linked = await connectionStatus(company.id, conn.id);
    assert.equal(linked.status, 'Linked');

    // The refused page's weight (another browser opening the flow's page).
    const weighPage = await newPage(browser, { locale: 'en-GB' });
    await weigh(weighPage, confirmUrl, 'refused');
    await weighPage.context().close();

    const refreshed = await validate(company.consumerId, 'sandbox');
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    assert.equal(refreshed.json.data.state, 'callable', JSON.stringify(refreshed.json));
    await page.context().close();
  });

  test('every page in English: screenshots, accessibility, weight (desktop and phone)', async () => {
    const company = await consumerCompany('Page Tour Ltd');
    const co = await call('GET', `/companies/${company.id}`);
    const page = await newPage(browser, { locale: 'en-GB' });
    await weigh(page, co.json.redirect, 'company');
    await check(page, '01-company-en-desktop');
    const phone = await newPage(browser, { locale: 'en-GB', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await phone.goto(co.json.redirect);
    await check(phone, '02-company-en-phone');

    // Search without script: a GET form.
    await page.fill('#q', 'commerce');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForURL(/q=commerce/);
    assert.equal(await page.locator('button.platform').count(), 1);
    await check(page, '03-company-en-search');

    // On-premise instructions: the licence key is the company id.
    await page.goto(co.json.redirect);
    await page.click('button[aria-label="Connect QuickBooks Desktop"]');
    await page.waitForSelector('code');
    await weigh(page, page.url(), 'onpremise');
    assert.equal((await page.textContent('code')).trim(), company.id);
    await check(page, '04-onpremise-en');

    // Shopify-style platforms ask for the shop first.
    const shop = await connection(company.id, 'fztf');
    await phone.goto(shop.linkUrl);
    await phone.waitForSelector('#shop');
    await check(phone, '05-shop-en-phone');
    await phone.fill('#shop', 'not a shop');
    await phone.click('button[type=submit]');
    await phone.waitForSelector('#shop-error');
    await check(phone, '06-shop-invalid-en-phone');

    // An unknown company: a page, not JSON.
    const res = await page.goto(`${new URL(co.json.redirect).origin}/link/company/01a2d5f0-0000-7000-8000-000000000000`);
    assert.equal(res.status(), 404);
    await check(page, '07-not-found-en');
    await page.context().close();
    await phone.context().close();
  });

  test('French: the company page, consent, confirmation and redirect, in French', async () => {
    const company = await consumerCompany('Boulangerie Dupont');
    const co = await call('GET', `/companies/${company.id}`);
    const page = await newPage(browser, { locale: 'fr-FR' });
    const seen = app.landings.length;
    const t0 = performance.now();
    await page.goto(co.json.redirect);
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await page.waitForSelector('text=Logiciels de comptabilité');
    await check(page, '10-company-fr');
    await page.click('button[aria-label="Connecter Sandbox"]');
    await page.waitForSelector('input[name="company_name"]');
    await check(page, '11-sandbox-consent');
    await page.fill('input[name="company_name"]', 'Boulangerie Dupont SARL');
    await page.click('button[value="approve"]');
    await page.waitForSelector('text=Est-ce bien l’entreprise que vous vouliez connecter ?');
    await check(page, '12-confirm-fr');
    await page.click('button[value="yes"]');
    await page.waitForURL(`${app.origin}/linked/**`);
    figure('link.fr.open_to_redirect_ms', Math.round(performance.now() - t0));
    const land = await landing(seen + 1);
    assert.equal(land.url.searchParams.get('statusCode'), '200');
    const id = land.url.searchParams.get('connectionId');
    assert.equal((await connectionStatus(company.id, id)).status, 'Linked');

    // Back on the company page: the connection is listed with a French date.
    await page.goto(co.json.redirect);
    await page.waitForSelector('text=Vos connexions');
    assert.match(await page.textContent('.conns'), /Connectée le \d{1,2} [a-zéû]+ \d{4}/);
    await check(page, '13-company-linked-fr');
    await page.context().close();
  });

  test('API-key form for the Commerce Sandbox: a wrong key is refused, the right one links', async () => {
    const company = await consumerCompany('Corner Shop Ltd');
    const store = await fetch(`${fl.base}/sandbox/admin/commerce/stores`, { method: 'POST', body: '{}' }).then((r) => r.json());
    const co = await call('GET', `/companies/${company.id}`);
    const page = await newPage(browser, { locale: 'en-GB' });
    const seen = app.landings.length;
    await page.goto(co.json.redirect);
    await page.click('button[aria-label="Connect Commerce Sandbox"]');
    await page.waitForSelector('input[name="apiKey"][type="password"]');
    await weigh(page, page.url(), 'apikey-form');
    await check(page, '20-apikey-form-en');
    await page.fill('input[name="apiKey"]', 'sk_sandbox_wrong');
    await page.click('form button[type=submit]');
    await page.waitForSelector('#form-error');
    assert.match(await page.textContent('#form-error'), /did not accept/);
    await check(page, '21-apikey-refused-en');
    // Hold the browser on finlink's hand-over page (a 204 answer to a navigation keeps the
    // current document) to check it, then let it go on to the application.
    await page.route(`${app.origin}/**`, (route) => route.fulfill({ status: 204 }));
    await page.fill('input[name="apiKey"]', store.apiKey);
    await page.click('form button[type=submit]');
    await page.waitForSelector('text=Taking you back to');
    await check(page, '22-handover-en');
    const target = await page.getAttribute('a.button', 'href');
    await page.unroute(`${app.origin}/**`);
    await page.goto(target);
    const land = await landing(seen + 1);
    assert.equal(land.url.searchParams.get('statusCode'), '200');
    const id = land.url.searchParams.get('connectionId');
    assert.equal((await connectionStatus(company.id, id)).status, 'Linked');
    await page.context().close();
  });

  test('denied consent ends on the redirect with statusCode=403; the failure page offers a retry', async () => {
    const company = await consumerCompany('Denied Ltd');
    const conn = await connection(company.id, 'mqjo');
    const page = await newPage(browser, { locale: 'en-GB' });
    const seen = app.landings.length;
    await page.goto(conn.linkUrl);
    await page.click('button[value="deny"]');
    await page.waitForURL(`${app.origin}/linked/**`);
    const land = await landing(seen + 1);
    assert.equal(land.url.searchParams.get('statusCode'), '403');
    assert.ok(land.url.searchParams.get('errorMessage'));
    const after = await connectionStatus(company.id, conn.id);
    assert.equal(after.status, 'PendingAuth');
    assert.equal(after.dataConnectionErrors.at(-1).statusCode, '403');

    // finlink's own end page (what a profile without a redirect URL shows).
    await page.goto(`${fl.base}/link/companies/${company.id}/connections/${conn.id}/done`);
    await page.waitForSelector('text=The connection did not complete');
    await weigh(page, page.url(), 'failure');
    await check(page, '30-failure-en');
    await page.goto(`${fl.base}/link/companies/${company.id}/connections/${conn.id}/done?lang=fr`);
    await check(page, '31-failure-fr');
    await page.context().close();
  });

  test('a replayed state is refused with a page that explains it, and changes nothing', async () => {
    const company = await consumerCompany('Replay Ltd');
    const conn = await connection(company.id, 'mqjo');
    const page = await newPage(browser, { locale: 'en-GB' });
    let callbackUrl = null;
    page.on('request', (r) => { if (r.url().includes('/link/oauth/callback')) callbackUrl = r.url(); });
    await page.goto(conn.linkUrl);
    await page.click('button[value="approve"]');
    await page.waitForSelector('button[value="yes"]');
    await page.click('button[value="yes"]');
    await page.waitForURL(`${app.origin}/linked/**`);
    assert.ok(callbackUrl, 'saw the callback');
    const before = await call('GET', '/audit?pageSize=200');
    const res = await page.goto(callbackUrl);
    assert.equal(res.status(), 400);
    await page.waitForSelector('text=already completed or cancelled');
    await check(page, '40-replayed-state-en');
    const afterAudit = await call('GET', '/audit?pageSize=200');
    assert.equal(afterAudit.json.totalResults, before.json.totalResults, 'nothing was audited: nothing changed');
    assert.equal((await connectionStatus(company.id, conn.id)).status, 'Linked');

    // The same callback in another browser (no Link cookie) is refused too.
    const other = await newPage(browser, { locale: 'en-GB' });
    const res2 = await other.goto(callbackUrl);
    assert.equal(res2.status(), 400);
    await other.waitForSelector('text=another browser');
    await check(other, '41-foreign-state-en');
    await page.context().close();
    await other.context().close();
  });

  test('an independent authorization server (oidc-provider, PKCE required, rotating refresh tokens) as a custom integration', async () => {
    const company = await consumerCompany('Oidc Customer Ltd');
    const conn = await connection(company.id, 'oidc');
    const page = await newPage(browser, { locale: 'en-GB', blockExternal: true });
    const seen = app.landings.length;
    const t0 = performance.now();
    await page.goto(conn.linkUrl);
    await completeDevInteractions(page, { username: 'alice' });
    await page.waitForSelector('text=Is this the company you meant to connect?');
    assert.match(await page.textContent('.found-name'), /Oidc Test Org/);
    await check(page, '50-confirm-oidc-en');
    await page.click('button[value="yes"]');
    await page.waitForURL(`${app.origin}/linked/**`);
    figure('link.oidc.open_to_redirect_ms', Math.round(performance.now() - t0));
    const land = await landing(seen + 1);
    assert.equal(land.url.searchParams.get('statusCode'), '200');
    const linked = await connectionStatus(company.id, conn.id);
    assert.equal(linked.status, 'Linked');
    assert.equal(linked.connectionInfo.iss, idp.issuer, 'a callback parameter kept as a setting');
    assert.equal(linked.connectionInfo.organizationId, 'alice', 'the identity endpoint gave the organisation');
    // The refresh token rotates at oidc-provider; refreshing twice proves the new one was kept.
    for (let i = 0; i < 2; i += 1) {
      const r = await validate(company.consumerId, 'oidc-books');
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.data.state, 'callable', JSON.stringify(r.json));
    }
    await page.context().close();
  });

  test('several organisations behind one grant: the business picks one', async () => {
    const multi = await startFinlink('[sandbox]\norganisations_per_grant = 3\n', 'finlink-multi');
    try {
      const call2 = api(multi);
      const co = await call2('POST', '/companies', { name: 'Group Holdings' });
      const conn = await call2('POST', `/companies/${co.json.id}/connections`, { platformKey: 'mqjo' });
      const page = await newPage(browser, { locale: 'fr-FR' });
      await page.goto(conn.json.linkUrl);
      await page.click('button[value="approve"]');
      await page.waitForSelector('input[name="organisation"]');
      await weigh(page, page.url(), 'organisation');
      assert.equal(await page.locator('input[name="organisation"]').count(), 3);
      await check(page, '60-organisation-fr');
      await page.check('#org-2');
      await page.click('button[type=submit]');
      await page.waitForSelector('text=Vous êtes connecté');
      await check(page, '61-success-fr');
      const after = await call2('GET', `/companies/${co.json.id}/connections/${conn.json.id}`);
      assert.equal(after.json.status, 'Linked');
      await page.context().close();
    } finally {
      await multi.stop();
    }
  });
});
