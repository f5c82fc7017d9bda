// Self-test of e2e/lib/browser.mjs against throwaway local HTTP servers.
// Proves: axe-core runs on a page whose CSP forbids every script (no bypassCSP),
// locale reaches Accept-Language, screenshots land in e2e/artifacts/, and
// pageWeight() counts bytes and flags cross-origin requests.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import {
  ARTIFACTS_DIR, formatViolations, launchBrowser, newPage, pageWeight, runAxe, screenshot, watchConsole,
} from '../lib/browser.mjs';

const STRICT_CSP = "default-src 'none'; style-src 'self'";

// 1x1 transparent PNG
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

function listen(handler) {
  return new Promise((resolve) => {
    const srv = http.createServer(handler);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}
const urlOf = (srv) => `http://127.0.0.1:${srv.address().port}`;

describe('lib/browser.mjs', () => {
  let browser;
  let site;
  let other; // a second loopback origin, i.e. "external" from the site's view
  const seen = []; // { path, acceptLanguage }

  before(async () => {
    other = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length });
      res.end(PNG);
    });
    const otherUrl = urlOf(other);
    site = await listen((req, res) => {
      seen.push({ path: req.url, acceptLanguage: req.headers['accept-language'] });
      const html = (body, headers = {}) => {
        const buf = Buffer.from(body);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': buf.length, ...headers });
        res.end(buf);
      };
      switch (req.url) {
        case '/bad':
          // Deliberately inaccessible: image without alt, unlabeled input,
          // empty button, low contrast (via the allowed same-origin stylesheet).
          return html(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>bad page</title><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>Bad</h1>
<p class="faint">low contrast text that axe should flag</p>
<img src="/pixel.png">
<input type="text">
<button></button>
<img src="${otherUrl}/blocked-by-csp.png" alt="x">
<script>document.title = 'inline script ran';</script>
</main></body></html>`, { 'content-security-policy': STRICT_CSP });
        case '/good':
          return html(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>good page</title><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>Good</h1><p>Readable text.</p><img src="/pixel.png" alt="a pixel">
<label for="q">Query</label><input id="q" type="text"><button type="submit">Search</button></main></body></html>`,
          { 'content-security-policy': STRICT_CSP });
        case '/weight':
          return html(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>weight</title>
<link rel="stylesheet" href="/style.css"></head>
<body><main><h1>Weight</h1><img src="/pixel.png" alt="same origin"><img src="${otherUrl}/ext.png" alt="other origin"></main></body></html>`);
        case '/blocked':
          return html(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>blocked</title></head>
<body><main><h1>Blocked</h1><img src="http://external.invalid/x.png" alt="never fetched"></main></body></html>`);
        case '/redirect':
          res.writeHead(302, { location: '/weight' });
          return res.end();
        case '/style.css':
          res.writeHead(200, { 'content-type': 'text/css' });
          return res.end('body{font:16px sans-serif;background:#fff;color:#111} .faint{color:#ddd}');
        case '/pixel.png':
          res.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length });
          return res.end(PNG);
        default:
          res.writeHead(404);
          return res.end();
      }
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    site?.close();
    other?.close();
  });

  it('runs axe on a page with a script-less CSP without bypassing it', async () => {
    const page = await newPage(browser);
    const consoleMsgs = watchConsole(page);
    const resp = await page.goto(`${urlOf(site)}/bad`);
    assert.equal(resp.headers()['content-security-policy'], STRICT_CSP);

    // The CSP is really in force: the inline script did not run, and an
    // inline <script> added the "normal" way (what axe injection via
    // addScriptTag would do) does not run either.
    assert.equal(await page.title(), 'bad page');
    await page.addScriptTag({ content: 'window.__injected = 1;' }).catch(() => {});
    assert.equal(await page.evaluate(() => window.__injected), undefined, 'inline script ran despite CSP');
    assert.ok(consoleMsgs.some((m) => /Content Security Policy/i.test(m.text)),
      `expected a CSP console report, got ${JSON.stringify(consoleMsgs)}`);

    const violations = await runAxe(page);
    const ids = violations.map((v) => v.id).sort();
    for (const id of ['button-name', 'color-contrast', 'image-alt', 'label']) {
      assert.ok(ids.includes(id), `expected ${id} in ${ids.join(', ')}\n${formatViolations(violations)}`);
    }
    assert.ok(violations.every((v) => ['serious', 'critical'].includes(v.impact)));
    // Running twice reuses the already-evaluated axe.
    assert.equal((await runAxe(page)).length, violations.length);
    await page.context().close();
  });

  it('finds no serious/critical violations on an accessible page', async () => {
    const page = await newPage(browser);
    await page.goto(`${urlOf(site)}/good`);
    const violations = await runAxe(page);
    assert.deepEqual(violations, [], formatViolations(violations));
    await page.context().close();
  });

  it('sends Accept-Language from the locale and takes full-page screenshots', async () => {
    const page = await newPage(browser, { locale: 'de-DE', viewport: { width: 400, height: 300 } });
    seen.length = 0;
    await page.goto(`${urlOf(site)}/good`);
    const doc = seen.find((s) => s.path === '/good');
    assert.match(doc.acceptLanguage, /^de-DE\b/);
    assert.equal(await page.evaluate(() => navigator.language), 'de-DE');
    assert.deepEqual(page.viewportSize(), { width: 400, height: 300 });

    const file = await screenshot(page, 'browser-lib/good de-DE');
    assert.ok(file.startsWith(ARTIFACTS_DIR));
    assert.ok((await stat(file)).size > 100);
    const sig = (await readFile(file)).subarray(0, 8);
    assert.deepEqual([...sig], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    await page.context().close();
  });

  it('pageWeight counts transferred bytes and flags other-origin requests', async () => {
    const page = await newPage(browser);
    const w = await pageWeight(page, `${urlOf(site)}/redirect`);
    assert.equal(w.url, `${urlOf(site)}/weight`);
    assert.equal(w.origin, urlOf(site));
    assert.equal(w.status, 200);
    const paths = w.requests.map((r) => new URL(r.url).pathname).sort();
    assert.deepEqual(paths, ['/ext.png', '/pixel.png', '/redirect', '/style.css', '/weight']);
    const redirect = w.requests.find((r) => r.url.endsWith('/redirect'));
    assert.equal(redirect.status, 302);
    assert.ok(w.requests.every((r) => r.bytes > 0), JSON.stringify(w.requests, null, 1));
    // At least bodies; encodedDataLength also includes response headers.
    assert.ok(w.totalBytes > 2 * PNG.length + 300, `totalBytes ${w.totalBytes}`);
    assert.equal(w.totalBytes, w.requests.reduce((n, r) => n + r.bytes, 0));
    assert.deepEqual(w.external.map((r) => r.url), [`${urlOf(other)}/ext.png`]);
    await page.context().close();
  });

  it('pageWeight reports CSP-blocked and route-blocked external requests', async () => {
    const page = await newPage(browser);
    const w = await pageWeight(page, `${urlOf(site)}/bad`);
    const ext = w.external.find((r) => r.url.endsWith('/blocked-by-csp.png'));
    assert.ok(ext, JSON.stringify(w.requests, null, 1));
    assert.equal(ext.blockedReason, 'csp');
    assert.equal(ext.bytes, 0);
    await page.context().close();

    const page2 = await newPage(browser, { blockExternal: true });
    const w2 = await pageWeight(page2, `${urlOf(site)}/blocked`);
    assert.deepEqual(w2.external.map((r) => r.url), ['http://external.invalid/x.png']);
    assert.ok(w2.external[0].failed, JSON.stringify(w2.external));
    await page2.context().close();
  });
});
