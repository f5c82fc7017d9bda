// Helpers around e2e/oidc/server.mjs for tests that need an IdP.
//
//   const idp = await startOidcServer({ clientId, clientSecret, redirectUri });
//   t.after(() => idp.stop());
//   idp.issuer, idp.metadata.token_endpoint, ...
//   // in the browser, once the RP has redirected to idp.issuer/auth?...:
//   await completeDevInteractions(page, { username: 'alice' });

import * as crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { OIDC_READY_RE, spawnAndWait } from './process.mjs';

export const OIDC_SERVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../oidc/server.mjs');

// Dev-interaction page selectors (oidc-provider 9 built-in devInteractions).
export const DEV_INTERACTION = {
  loginForm: 'form:has(input[name="prompt"][value="login"])',
  username: 'input[name="login"]',
  password: 'input[name="password"]',
  consentForm: 'form:has(input[name="prompt"][value="consent"])',
  submit: 'button[type="submit"]', // "Sign-in" on the login page, "Continue" on consent
  cancel: 'a[href$="/abort"]', // "[ Cancel ]" → redirect with error=access_denied
};

/**
 * Start the test IdP as a child process.
 * @returns {Promise<{issuer: string, metadata: object, proc: object, stop: () => Promise<void>}>}
 */
export async function startOidcServer({
  clientId, clientSecret, redirectUri, orgName, port = 0, loopbackAnyPort = false,
  accessTokenTtl, env = {}, timeoutMs = 20_000,
} = {}) {
  const proc = await spawnAndWait(process.execPath, [OIDC_SERVER], {
    name: 'oidc',
    ready: OIDC_READY_RE,
    timeoutMs,
    env: {
      OIDC_PORT: String(port),
      OIDC_CLIENT_ID: clientId,
      OIDC_CLIENT_SECRET: clientSecret,
      OIDC_REDIRECT_URI: Array.isArray(redirectUri) ? redirectUri.join(',') : redirectUri,
      ...(orgName ? { OIDC_ORG_NAME: orgName } : {}),
      ...(loopbackAnyPort ? { OIDC_LOOPBACK_ANY_PORT: '1' } : {}),
      ...(accessTokenTtl ? { OIDC_ACCESS_TOKEN_TTL: String(accessTokenTtl) } : {}),
      ...env,
    },
  });
  const issuer = proc.match[1];
  let metadata;
  try {
    metadata = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { issuer, metadata, proc, stop: async () => { await proc.stop(); } };
}

/**
 * On a page currently showing the IdP's dev interactions, log in (any
 * username/password) and approve consent. Steps not shown (existing session,
 * existing grant) are skipped. Resolves once the browser has left the IdP
 * origin (i.e. reached the redirect URI), or when `until(url)` is true.
 */
export async function completeDevInteractions(page, {
  username = 'alice', password = 'any-password', issuer, timeout = 15_000, until,
} = {}) {
  const idpOrigin = issuer ? new URL(issuer).origin : new URL(page.url()).origin;
  const left = (u) => (until ? until(u) : u.origin !== idpOrigin);
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (left(new URL(page.url()))) return page.url();
    const login = await page.$(DEV_INTERACTION.loginForm);
    if (login) {
      await page.fill(DEV_INTERACTION.username, username);
      await page.fill(DEV_INTERACTION.password, password);
      await Promise.all([page.waitForNavigation({ timeout }), page.click(`${DEV_INTERACTION.loginForm} ${DEV_INTERACTION.submit}`)]);
      continue;
    }
    const consent = await page.$(DEV_INTERACTION.consentForm);
    if (consent) {
      await Promise.all([page.waitForNavigation({ timeout }), page.click(`${DEV_INTERACTION.consentForm} ${DEV_INTERACTION.submit}`)]);
      continue;
    }
    await page.waitForTimeout(50);
  }
  throw new Error(`completeDevInteractions: still at ${page.url()} after ${timeout} ms`);
}

/** PKCE pair (S256). */
export function pkcePair() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

/** Authorization: Basic header per RFC 6749 §2.3.1 (form-urlencode id and secret first). */
export function basicAuth(clientId, clientSecret) {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}
