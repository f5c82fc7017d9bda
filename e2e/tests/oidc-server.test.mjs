// End-to-end check of e2e/oidc/server.mjs: a real browser logs in through the
// dev interactions, the code is exchanged with PKCE + client_secret_basic,
// refresh-token rotation and reuse detection, revocation, userinfo, and the
// refusals (no PKCE, plain PKCE, wrong verifier).

import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { launchBrowser, newPage, screenshot } from '../lib/browser.mjs';
import {
  basicAuth as basic, completeDevInteractions, OIDC_SERVER as SERVER, pkcePair, startOidcServer,
} from '../lib/oidc.mjs';
import { OIDC_READY_RE, spawnAndWait } from '../lib/process.mjs';

const CLIENT_ID = 'finlink-e2e';
const CLIENT_SECRET = 'e2e-secret-with:colon&amp'; // exercises form-encoding of Basic credentials
const ORG = 'Oidc Test Org';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

async function postForm(url, params, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(params),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = { raw: text }; }
  return { status: res.status, json };
}

function startCallbackServer() {
  const hits = [];
  const waiters = [];
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    const hit = { path: u.pathname, query: Object.fromEntries(u.searchParams) };
    hits.push(hit);
    waiters.splice(0).forEach((w) => w(hit));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>callback</title><p>callback received</p>');
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    srv,
    hits,
    url: `http://127.0.0.1:${srv.address().port}/link/oauth/callback`,
    next: () => new Promise((r) => waiters.push(r)),
  })));
}

describe('oidc/server.mjs (oidc-provider test IdP)', () => {
  let cb;
  let idp;
  let issuer;
  let meta;
  let browser;

  before(async () => {
    cb = await startCallbackServer();
    idp = await startOidcServer({
      clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: cb.url, orgName: ORG,
    });
    ({ issuer, metadata: meta } = idp);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await idp?.stop();
    cb?.srv.close();
  });

  function authorizeUrl(extra = {}) {
    const u = new URL(meta.authorization_endpoint);
    u.search = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: cb.url,
      scope: 'openid offline_access profile',
      state: b64url(crypto.randomBytes(12)),
      ...extra,
    }).toString();
    return u.href;
  }

  /** Drive login + consent in the browser; resolves with the callback query. */
  async function browserLogin(page, url, { username = 'alice', expectForms = true } = {}) {
    const callback = cb.next();
    await page.goto(url);
    if (expectForms) {
      // Dev interaction: login form
      await page.waitForSelector('form input[name="login"]');
      assert.equal(await page.textContent('h1'), 'Sign-in');
      await screenshot(page, 'oidc/01-login');
      await page.fill('input[name="login"]', username);
      await page.fill('input[name="password"]', 'any-password');
      await page.click('button[type="submit"]');
      // Dev interaction: consent form
      await page.waitForSelector('form input[name="prompt"][value="consent"]', { state: 'attached' });
      assert.equal(await page.textContent('h1'), 'Authorize');
      await screenshot(page, 'oidc/02-consent');
      await page.click('button[type="submit"]');
    }
    await page.waitForURL((u) => u.href.startsWith(cb.url), { timeout: 15_000 });
    return callback;
  }

  it('serves discovery with the expected endpoints', () => {
    assert.equal(meta.issuer, issuer);
    assert.match(issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(meta.authorization_endpoint, `${issuer}/auth`);
    assert.equal(meta.token_endpoint, `${issuer}/token`);
    assert.equal(meta.revocation_endpoint, `${issuer}/token/revocation`);
    assert.equal(meta.userinfo_endpoint, `${issuer}/me`);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(meta.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
    for (const s of ['openid', 'offline_access', 'profile']) assert.ok(meta.scopes_supported.includes(s));
    assert.ok(meta.grant_types_supported.includes('refresh_token'));
    // Only the readiness line is on stdout.
    assert.deepEqual(idp.proc.stdoutLines, [`oidc-provider listening on ${issuer}`]);
  });

  it('refuses authorization requests without PKCE or with plain PKCE', async () => {
    for (const [extra, re] of [
      [{}, /PKCE/],
      [{ code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' }, /code_challenge_method/],
    ]) {
      const res = await fetch(authorizeUrl(extra), { redirect: 'manual' });
      assert.equal(res.status, 303);
      const loc = new URL(res.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, cb.url);
      assert.equal(loc.searchParams.get('error'), 'invalid_request');
      assert.match(loc.searchParams.get('error_description'), re);
    }
    // A correct request is sent to the login interaction instead.
    const ok = await fetch(authorizeUrl({ code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });
    assert.equal(ok.status, 303);
    assert.match(ok.headers.get('location'), /^\/interaction\/[\w-]+$/);
  });

  it('full code + PKCE flow in Chromium, token exchange, userinfo, refresh rotation', async (t) => {
    const started = Date.now();
    const page = await newPage(browser, { blockExternal: true });
    const { verifier, challenge } = pkcePair();
    const state = b64url(crypto.randomBytes(12));
    const hit = await browserLogin(page, authorizeUrl({
      state, code_challenge: challenge, code_challenge_method: 'S256', nonce: 'n-0S6',
    }));
    t.diagnostic(`browser login+consent took ${Date.now() - started} ms`);
    assert.equal(hit.path, '/link/oauth/callback');
    assert.equal(hit.query.state, state);
    assert.equal(hit.query.iss, issuer); // RFC 9207 iss is always added
    assert.ok(hit.query.code, JSON.stringify(hit.query));
    assert.equal(hit.query.error, undefined);

    // A wrong verifier is refused; it does not consume the code (PKCE is checked first).
    const bad = await postForm(meta.token_endpoint, {
      grant_type: 'authorization_code', code: hit.query.code, redirect_uri: cb.url, code_verifier: pkcePair().verifier,
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'invalid_grant');

    // Exchange with client_secret_basic + code_verifier.
    const tok = await postForm(meta.token_endpoint, {
      grant_type: 'authorization_code', code: hit.query.code, redirect_uri: cb.url, code_verifier: verifier,
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(tok.status, 200, JSON.stringify(tok.json));
    assert.equal(tok.json.token_type, 'Bearer');
    assert.ok(tok.json.access_token);
    assert.ok(tok.json.refresh_token, 'refresh_token missing');
    assert.ok(tok.json.id_token);
    assert.equal(tok.json.expires_in, 600);
    // offline_access is dropped without prompt=consent, yet a refresh token is issued.
    assert.equal(tok.json.scope, 'openid profile');

    // Userinfo
    const me = await fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${tok.json.access_token}` } });
    assert.equal(me.status, 200);
    const claims = await me.json();
    assert.deepEqual(claims, { sub: 'alice', name: ORG, org_name: ORG });

    // Refresh (client_secret_post this time): rotation gives a new refresh token.
    const r1 = await postForm(meta.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: tok.json.refresh_token,
      client_id: CLIENT_ID, client_secret: CLIENT_SECRET,
    });
    assert.equal(r1.status, 200, JSON.stringify(r1.json));
    assert.ok(r1.json.access_token);
    assert.notEqual(r1.json.access_token, tok.json.access_token);
    assert.ok(r1.json.refresh_token);
    assert.notEqual(r1.json.refresh_token, tok.json.refresh_token, 'refresh token was not rotated');
    const me2 = await fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${r1.json.access_token}` } });
    assert.equal((await me2.json()).name, ORG);

    // Reusing the old (consumed) refresh token fails ...
    const reuse = await postForm(meta.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: tok.json.refresh_token,
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json.error, 'invalid_grant');
    // ... and, as reuse detection, revokes the whole grant: the rotated token dies too.
    const afterReuse = await postForm(meta.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: r1.json.refresh_token,
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(afterReuse.status, 400);
    assert.equal(afterReuse.json.error, 'invalid_grant');
    await page.context().close();
  });

  it('existing IdP session + grant skips the forms; revocation kills a refresh token', async () => {
    const page = await newPage(browser, { blockExternal: true });
    let { verifier, challenge } = pkcePair();
    // lib/oidc.mjs completeDevInteractions drives whatever forms appear.
    const first = cb.next();
    await page.goto(authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' }));
    await completeDevInteractions(page, { username: 'bob', issuer });
    assert.ok((await first).query.code);

    // Same browser context (IdP session cookie + stored grant): a new
    // authorization goes straight back to the redirect URI, no forms.
    ({ verifier, challenge } = pkcePair());
    const hit = await browserLogin(page, authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256' }), { expectForms: false });
    assert.ok(hit.query.code, JSON.stringify(hit.query));
    const tok = await postForm(meta.token_endpoint, {
      grant_type: 'authorization_code', code: hit.query.code, redirect_uri: cb.url, code_verifier: verifier,
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(tok.status, 200, JSON.stringify(tok.json));
    assert.equal((await (await fetch(meta.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tok.json.access_token}` },
    })).json()).sub, 'bob');

    // prompt=consent forces the consent form again (login is remembered).
    ({ verifier, challenge } = pkcePair());
    await page.goto(authorizeUrl({ code_challenge: challenge, code_challenge_method: 'S256', prompt: 'consent' }));
    await page.waitForSelector('form input[name="prompt"][value="consent"]', { state: 'attached' });
    const consented = cb.next();
    await page.click('button[type="submit"]');
    const hit3 = await consented;
    const tok3 = await postForm(meta.token_endpoint, {
      grant_type: 'authorization_code', code: hit3.query.code, redirect_uri: cb.url, code_verifier: verifier,
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(tok3.status, 200, JSON.stringify(tok3.json));
    // offline_access is kept when prompt=consent is sent.
    assert.deepEqual(tok3.json.scope.split(' ').sort(), ['offline_access', 'openid', 'profile']);

    // Revocation (RFC 7009): always 200; the refresh token stops working.
    const rev = await postForm(meta.revocation_endpoint, {
      token: tok.json.refresh_token, token_type_hint: 'refresh_token',
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(rev.status, 200);
    const r = await postForm(meta.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: tok.json.refresh_token,
    }, { authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_grant');
    // Wrong client secret is refused with invalid_client.
    const wrong = await postForm(meta.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: tok3.json.refresh_token,
    }, { authorization: basic(CLIENT_ID, 'nope') });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, 'invalid_client');
    await page.context().close();
  });
});

describe('oidc/server.mjs with OIDC_LOOPBACK_ANY_PORT=1', () => {
  it('accepts a loopback redirect URI on any port, but not another path', async () => {
    const idp = await spawnAndWait(process.execPath, [SERVER], {
      name: 'oidc-native',
      ready: OIDC_READY_RE,
      timeoutMs: 20_000,
      env: {
        OIDC_PORT: '0',
        OIDC_CLIENT_ID: CLIENT_ID,
        OIDC_CLIENT_SECRET: CLIENT_SECRET,
        OIDC_REDIRECT_URI: 'http://127.0.0.1/link/oauth/callback',
        OIDC_LOOPBACK_ANY_PORT: '1',
      },
    });
    try {
      const [, issuer] = idp.match;
      const auth = (redirectUri) => `${issuer}/auth?${new URLSearchParams({
        client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: redirectUri,
        code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
      })}`;
      const ok = await fetch(auth('http://127.0.0.1:54321/link/oauth/callback'), { redirect: 'manual' });
      assert.equal(ok.status, 303);
      assert.match(ok.headers.get('location'), /^\/interaction\//);
      const bad = await fetch(auth('http://127.0.0.1:54321/elsewhere'), { redirect: 'manual' });
      assert.equal(bad.status, 400); // rendered error page, no redirect
    } finally {
      await idp.stop();
    }
  });
});
