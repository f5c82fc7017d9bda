// Browser helpers for finlink e2e tests: Debian Chromium driven by
// playwright-core (no Playwright-downloaded browsers), axe-core checks that
// work under a strict Content-Security-Policy, screenshots, and page weight.
//
//   import { launchBrowser, newPage, screenshot, runAxe, pageWeight } from '../lib/browser.mjs';
//   const browser = await launchBrowser();
//   const page = await newPage(browser, { locale: 'de-DE' });
//   const weight = await pageWeight(page, 'http://127.0.0.1:8080/');
//   await screenshot(page, 'home-de');
//   const violations = await runAxe(page);          // serious + critical only
//   await browser.close();

import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));

export const E2E_DIR = path.resolve(HERE, '..');
export const ARTIFACTS_DIR = path.join(E2E_DIR, 'artifacts');
export const CHROMIUM_PATH = process.env.E2E_CHROMIUM || '/usr/bin/chromium';

// Without the background-networking/component-update/sync flags Chromium keeps
// trying to reach Google services and hangs on a closed network.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DEFAULT_VIEWPORT = { width: 1280, height: 800 };

/**
 * Launch Debian's Chromium. Playwright gives each launch a fresh, empty
 * temporary user-data dir and deletes it on close.
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser(opts = {}) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
    ...opts,
  });
}

/**
 * New isolated context (cookies, storage) + page.
 * `locale` sets navigator.language and the Accept-Language header.
 * `blockExternal: true` aborts every request not aimed at a loopback host
 * (127.0.0.0/8, localhost, [::1]); aborted requests still show up in
 * pageWeight()/recordNetwork() as failed, so they are still detected.
 * @returns {Promise<import('playwright-core').Page>} (page.context() to reach the context)
 */
export async function newPage(browser, {
  locale = 'en-US', viewport = DEFAULT_VIEWPORT, blockExternal = false, ...contextOpts
} = {}) {
  const context = await browser.newContext({ locale, viewport, ...contextOpts });
  if (blockExternal) {
    await context.route((url) => !isLoopbackUrl(url), (route) => route.abort('blockedbyclient'));
  }
  return context.newPage();
}

export function isLoopbackUrl(url) {
  const u = url instanceof URL ? url : URL.parse(String(url));
  if (!u) return false;
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return true; // data:, blob:, about:
  const h = u.hostname;
  return h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Full-page PNG into e2e/artifacts/<name>.png. Returns the file path.
 */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const safe = String(name).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/\.png$/i, '');
  const file = path.join(ARTIFACTS_DIR, `${safe}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

let axeSource;
async function getAxeSource() {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

/**
 * Run axe-core on the current page and return violations whose impact is
 * 'serious' or 'critical' (pass `impacts` to change that).
 *
 * CSP: axe's source is evaluated through page.evaluate(), i.e. the DevTools
 * protocol (Runtime.evaluate), which the page's Content-Security-Policy does
 * not govern. No <script> tag is added and the context is NOT created with
 * bypassCSP, so the page under test keeps its real policy.
 * (tests/browser-lib.test.mjs proves this against `default-src 'none'`.)
 *
 * @param {import('playwright-core').Page} page
 * @param {{ impacts?: string[], runOnly?: string[], context?: any, rules?: object }} [opts]
 * @returns {Promise<Array<{id: string, impact: string, help: string, helpUrl: string,
 *   nodes: Array<{target: string[], html: string, failureSummary: string}>}>>}
 */
export async function runAxe(page, {
  impacts = ['serious', 'critical'],
  runOnly = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'],
  context,
  rules,
} = {}) {
  const loaded = await page.evaluate(() => typeof window.axe?.run === 'function');
  if (!loaded) {
    // A string is evaluated as an expression via Runtime.evaluate in the main world.
    await page.evaluate(`${await getAxeSource()}\n;typeof window.axe`);
  }
  const result = await page.evaluate(async ({ runOnly, context, rules }) => {
    const options = { resultTypes: ['violations'] };
    if (runOnly?.length) options.runOnly = { type: 'tag', values: runOnly };
    if (rules) options.rules = rules;
    const r = await window.axe.run(context ?? document, options);
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, failureSummary: n.failureSummary })),
    }));
  }, { runOnly, context, rules });
  return result.filter((v) => impacts.includes(v.impact));
}

/** Human-readable summary for assertion messages. */
export function formatViolations(violations) {
  return violations.map((v) => `[${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n`
    + v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}  ${n.html.slice(0, 160)}`).join('\n')).join('\n');
}

/**
 * Start recording the page's network traffic through CDP Network events.
 * `stop()` returns every request seen since: url, method, resourceType,
 * status, transferred bytes (encodedDataLength: headers + body as on the wire),
 * failure / blockedReason (e.g. 'csp'), and whether it was served from cache.
 */
export async function recordNetwork(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const byId = new Map();
  const done = [];

  const finishHop = (entry) => { done.push(entry); };

  cdp.on('Network.requestWillBeSent', (e) => {
    const prev = byId.get(e.requestId);
    if (prev && e.redirectResponse) {
      // Same requestId is reused across redirects: close the previous hop.
      prev.status = e.redirectResponse.status;
      prev.bytes = e.redirectResponse.encodedDataLength ?? 0;
      prev.redirectedTo = e.request.url;
      finishHop(prev);
    }
    byId.set(e.requestId, {
      url: e.request.url,
      method: e.request.method,
      resourceType: e.type,
      status: null,
      bytes: 0,
      mimeType: null,
      fromCache: false,
      failed: null,
      blockedReason: null,
    });
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = byId.get(e.requestId);
    if (!r) return;
    r.status = e.response.status;
    r.mimeType = e.response.mimeType;
    r.fromCache = Boolean(e.response.fromDiskCache || e.response.fromServiceWorker || e.response.fromPrefetchCache);
  });
  cdp.on('Network.requestServedFromCache', (e) => {
    const r = byId.get(e.requestId);
    if (r) r.fromCache = true;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = byId.get(e.requestId);
    if (!r) return;
    r.bytes = e.encodedDataLength ?? 0;
    byId.delete(e.requestId);
    finishHop(r);
  });
  cdp.on('Network.loadingFailed', (e) => {
    const r = byId.get(e.requestId);
    if (!r) return;
    r.failed = e.errorText || 'failed';
    r.blockedReason = e.blockedReason ?? (e.corsErrorStatus ? 'cors' : null);
    r.bytes = 0;
    byId.delete(e.requestId);
    finishHop(r);
  });

  return {
    /** @returns {Promise<Array<object>>} */
    async stop() {
      // Requests still in flight are reported as-is (bytes 0, status maybe null).
      const all = [...done, ...byId.values()];
      byId.clear();
      await cdp.detach().catch(() => {});
      return all;
    },
  };
}

/**
 * Navigate to `url` and measure it.
 * @returns {Promise<{url: string, origin: string, status: number|null, totalBytes: number,
 *   requestCount: number, requests: object[], external: object[]}>}
 *   totalBytes = sum of transferred bytes of every request of the navigation
 *   (document, redirects, subresources); `external` = requests whose origin differs
 *   from the final page's origin, including ones that failed or CSP blocked.
 *   `ignore(request)` drops requests from the result; by default the favicon
 *   probe Chromium makes on its own (GET /favicon.ico, type 'Other', timing-
 *   dependent) is dropped; pass `ignore: null` to keep everything.
 */
export const isAutoFavicon = (r) => r.resourceType === 'Other' && URL.parse(r.url)?.pathname === '/favicon.ico';

export async function pageWeight(page, url, {
  waitUntil = 'networkidle', timeout = 30_000, settleMs = 0, ignore = isAutoFavicon,
} = {}) {
  const rec = await recordNetwork(page);
  let response;
  try {
    response = await page.goto(url, { waitUntil, timeout });
    if (settleMs) await page.waitForTimeout(settleMs);
  } catch (err) {
    await rec.stop();
    throw err;
  }
  const requests = (await rec.stop()).filter((r) => !ignore?.(r));
  const origin = new URL(page.url()).origin;
  for (const r of requests) {
    const u = URL.parse(r.url);
    r.origin = u && ['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol) ? u.origin : null;
    r.external = r.origin !== null && r.origin !== origin;
  }
  return {
    url: page.url(),
    origin,
    status: response?.status() ?? null,
    totalBytes: requests.reduce((n, r) => n + (r.bytes || 0), 0),
    requestCount: requests.length,
    requests,
    external: requests.filter((r) => r.external),
  };
}

/**
 * Collect console messages and page errors (e.g. CSP violation reports,
 * "Refused to load ..."). Returns a live array.
 */
export function watchConsole(page) {
  const messages = [];
  page.on('console', (m) => messages.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => messages.push({ type: 'pageerror', text: String(e?.message ?? e) }));
  return messages;
}
