#!/usr/bin/env node
// Independent OAuth 2.0 / OpenID Connect authorization server for finlink e2e
// tests, built on panva's `oidc-provider`. Everything is kept in memory.
//
//   OIDC_PORT=0 OIDC_CLIENT_ID=finlink OIDC_CLIENT_SECRET=s3cret \
//   OIDC_REDIRECT_URI=http://127.0.0.1:8080/link/oauth/callback \
//   node e2e/oidc/server.mjs
//
// Environment:
//   OIDC_PORT              TCP port on 127.0.0.1 (0 = any free port; default 0)
//   OIDC_CLIENT_ID         the single registered client's id (required)
//   OIDC_CLIENT_SECRET     its secret (required)
//   OIDC_REDIRECT_URI      its redirect URI (required). Several may be given,
//                          separated by commas or whitespace. Exact match.
//   OIDC_ORG_NAME          value of the `name` / `org_name` claims (default "Oidc Test Org")
//   OIDC_LOOPBACK_ANY_PORT "1" registers the client as application_type=native, so a
//                          loopback redirect URI (127.0.0.1 / [::1] / localhost, http) matches
//                          whatever port the request uses (RFC 8252 §7.3). Handy when
//                          the IdP must start before the relying party knows its port.
//   OIDC_ACCESS_TOKEN_TTL  seconds (default 600)
//   OIDC_REFRESH_TOKEN_TTL seconds (default 14 days)
//   OIDC_DEBUG             "1" logs every provider event to stderr
//
// Stdout carries exactly one line once listening:
//   oidc-provider listening on http://127.0.0.1:PORT
// (that URL is the issuer). Everything else goes to stderr.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider's "NOTICE" messages go through console.info (stdout). Keep
// stdout for the single readiness line: route console.log/info to stderr
// before the library is loaded (hence the dynamic import below).
console.log = (...a) => console.error(...a);
console.info = (...a) => console.error(...a);
console.debug = (...a) => console.error(...a);

const { default: Provider } = await import('oidc-provider');

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`oidc server: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
}

const PORT = Number(process.env.OIDC_PORT ?? '0');
const CLIENT_ID = required('OIDC_CLIENT_ID');
const CLIENT_SECRET = required('OIDC_CLIENT_SECRET');
const REDIRECT_URIS = required('OIDC_REDIRECT_URI').split(/[\s,]+/).filter(Boolean);
const ORG_NAME = process.env.OIDC_ORG_NAME || 'Oidc Test Org';
const LOOPBACK_ANY_PORT = process.env.OIDC_LOOPBACK_ANY_PORT === '1';
const ACCESS_TOKEN_TTL = Number(process.env.OIDC_ACCESS_TOKEN_TTL || 600);
const REFRESH_TOKEN_TTL = Number(process.env.OIDC_REFRESH_TOKEN_TTL || 14 * 24 * 3600);
const DEBUG = process.env.OIDC_DEBUG === '1';

if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`oidc server: bad OIDC_PORT ${process.env.OIDC_PORT}`);
  process.exit(2);
}

// Bind first so that OIDC_PORT=0 yields a concrete port for the issuer URL.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(PORT, '127.0.0.1', () => { server.off('error', reject); resolve(); });
});
const issuer = `http://127.0.0.1:${server.address().port}`;

// Fresh signing key per process (avoids the "using development keys" warning).
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-rs256', use: 'sig', alg: 'RS256' };

const configuration = {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    client_name: 'finlink (e2e)',
    redirect_uris: REDIRECT_URIS,
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    // Registered method; oidc-provider v9 accepts client_secret_post as well
    // for a client registered with client_secret_basic (and vice versa).
    token_endpoint_auth_method: 'client_secret_basic',
    application_type: LOOPBACK_ANY_PORT ? 'native' : 'web',
    scope: 'openid offline_access profile',
  }],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  scopes: ['openid', 'offline_access', 'profile'],
  // Claims released per scope. name/org_name come with `openid` too, so a
  // client asking only for "openid offline_access" still gets them at /me.
  claims: {
    openid: ['sub', 'name', 'org_name'],
    profile: ['name', 'org_name'],
  },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims(_use, _scope, _claims, _rejected) {
        return { sub: id, name: ORG_NAME, org_name: ORG_NAME };
      },
    };
  },
  pkce: {
    // Every authorization code request must carry code_challenge (S256 is the
    // only method oidc-provider v9 supports).
    required: () => true,
  },
  // Always issue a refresh token to a client allowed the refresh_token grant,
  // whether or not offline_access survived (oidc-provider drops offline_access
  // unless prompt=consent is in the request).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  // Refresh tokens outlive the browser session at the IdP.
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: ACCESS_TOKEN_TTL,
    RefreshToken: REFRESH_TOKEN_TTL,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: REFRESH_TOKEN_TTL,
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  clientBasedCORS: () => false,
};

const provider = new Provider(issuer, configuration);

provider.on('server_error', (ctx, err) => console.error('oidc server_error:', ctx?.method, ctx?.path, err));
for (const ev of ['grant.error', 'authorization.error', 'revocation.error', 'userinfo.error', 'introspection.error']) {
  provider.on(ev, (ctx, err) => console.error(`oidc ${ev}: ${ctx?.method} ${ctx?.path}: ${err?.error ?? ''} ${err?.error_description ?? err?.message ?? err}`));
}
if (DEBUG) {
  provider.use(async (ctx, next) => {
    await next();
    console.error(`oidc ${ctx.method} ${ctx.url} -> ${ctx.status}`);
  });
}

server.on('request', provider.callback());

let closing = false;
function shutdown(signal) {
  if (closing) return;
  closing = true;
  console.error(`oidc server: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

process.stdout.write(`oidc-provider listening on ${issuer}\n`);
