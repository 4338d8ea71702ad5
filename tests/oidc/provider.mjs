// Test-only OpenID provider for the Supplier Portal test suite.
//
// Wraps panva/oidc-provider with: static clients and users read from a JSON file,
// a minimal login + consent interaction, and a test control API under /__test__/.
// NEVER expose this outside loopback: the control API is unauthenticated.
//
// Usage:
//   node provider.mjs --config cfg.json [--port 0] [--host 127.0.0.1] [--issuer URL]
//                     [--ready-file path] [--watch-stdin]
// Env fallbacks: OIDC_PROVIDER_CONFIG, OIDC_PROVIDER_PORT, OIDC_PROVIDER_HOST, OIDC_PROVIDER_ISSUER.
//
// Config JSON (every key optional):
//   {
//     "clients":  [{ "client_id", "client_secret", "redirect_uris", "token_endpoint_auth_method",
//                    "post_logout_redirect_uris", ...any other client metadata }],
//     "users":    { "<account id>": { "sub"?, "password"?, "amr"?, "acr"?, ...claims } },
//     "settings": { "id_token_ttl": 300, "id_token_clock_skew": 0, "auto_consent": true },
//     "claims":   { "<scope>": ["claim", ...] }   // merged over the built-in scope -> claims map
//   }

import { AsyncLocalStorage } from 'node:async_hooks';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

// --- clock skew hook (id tokens only) ------------------------------------------------------
// oidc-provider stamps iat/exp with Date.now(). While an IdToken is being issued we run inside
// an AsyncLocalStorage context carrying an offset in ms, so only id tokens are shifted; codes,
// sessions, cookies and access tokens keep the real clock.
const skewStore = new AsyncLocalStorage();
const realNow = Date.now;
Date.now = () => realNow() + (skewStore.getStore() ?? 0);

const { Provider } = await import('oidc-provider');

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    issuer: { type: 'string' },
    'ready-file': { type: 'string' },
    'watch-stdin': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

const configPath = args.config ?? process.env.OIDC_PROVIDER_CONFIG;
const host = args.host ?? process.env.OIDC_PROVIDER_HOST ?? '127.0.0.1';
const requestedPort = Number(args.port ?? process.env.OIDC_PROVIDER_PORT ?? 0);

const DEFAULT_SETTINGS = Object.freeze({
  id_token_ttl: 300, // seconds, positive integer
  id_token_clock_skew: 0, // seconds added to the id token's iat/exp (negative = in the past)
  auto_consent: true, // false: show a consent form that login_flow confirms
});

const BASE_CLAIMS = Object.freeze({
  acr: null,
  amr: null,
  auth_time: null,
  sid: null,
  iss: null,
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: [
    'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  groups: ['groups'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
});

// Keys in a user entry that drive the login rather than being emitted as claims.
const RESERVED_USER_KEYS = new Set(['password', 'amr', 'acr']);

function readConfig() {
  if (!configPath) return {};
  return JSON.parse(readFileSync(configPath, 'utf8'));
}

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

// --- mutable state -------------------------------------------------------------------------
const initial = readConfig();
const state = {
  clients: new Map(),
  users: {},
  settings: { ...DEFAULT_SETTINGS },
  claims: { ...BASE_CLAIMS, ...(initial.claims ?? {}) },
  keys: [newSigningKey()], // first key signs; older keys stay published after a rotation
};
const cookieKeys = [randomBytes(32).toString('hex')];

function normalizeClient(client) {
  if (!client?.client_id) throw new BadRequest('client_id is required');
  const out = { ...client };
  out.redirect_uris ??= [];
  out.post_logout_redirect_uris ??= [];
  if (!client.token_endpoint_auth_method) {
    out.token_endpoint_auth_method = client.client_secret ? 'client_secret_basic' : 'none';
  }
  return out;
}

function applyConfig(cfg) {
  state.clients = new Map();
  for (const c of cfg.clients ?? []) {
    const n = normalizeClient(c);
    state.clients.set(n.client_id, n);
  }
  state.users = structuredClone(cfg.users ?? {});
  state.settings = validateSettings({ ...DEFAULT_SETTINGS, ...(cfg.settings ?? {}) });
}

function validateSettings(s) {
  if (!Number.isSafeInteger(s.id_token_ttl) || s.id_token_ttl <= 0) {
    throw new BadRequest('id_token_ttl must be a positive integer (seconds)');
  }
  if (!Number.isSafeInteger(s.id_token_clock_skew)) {
    throw new BadRequest('id_token_clock_skew must be an integer (seconds)');
  }
  s.auto_consent = Boolean(s.auto_consent);
  return s;
}

class BadRequest extends Error {}

// --- provider construction -----------------------------------------------------------------
let provider;
let providerHandler;
let issuer;

function htmlEscape(v) {
  return String(v).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function buildProvider() {
  const p = new Provider(issuer, {
    clients: [...state.clients.values()],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    jwks: { keys: state.keys },
    cookies: { keys: cookieKeys },
    scopes: ['openid', 'offline_access', ...Object.keys(state.claims).filter((k) => Array.isArray(state.claims[k]) && k !== 'openid')],
    claims: state.claims,
    // Scope-requested claims go into the id token too (oidc-provider's default keeps them for
    // /userinfo only whenever an access token is issued, as the spec suggests).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      revocation: { enabled: true },
      introspection: { enabled: true },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 120,
      ClientCredentials: 600,
      IdToken: () => state.settings.id_token_ttl,
      Interaction: 600,
      Grant: 3600,
      Session: 3600,
      RefreshToken: 3600,
    },
    findAccount,
    renderError,
  });
  p.proxy = true; // honour X-Forwarded-* if a test puts a proxy in front
  const origIssue = p.IdToken.prototype.issue;
  p.IdToken.prototype.issue = function issueWithSkew(...a) {
    const skewMs = state.settings.id_token_clock_skew * 1000;
    return skewStore.run(skewMs, () => origIssue.apply(this, a));
  };
  p.on('server_error', (ctx, err) => console.error('server_error', err));
  provider = p;
  providerHandler = p.callback();
  return p;
}

async function findAccount(ctx, id) {
  const user = state.users[id];
  if (!user) return undefined;
  return {
    accountId: id,
    // Read the user at claim time so /__test__/users changes show on the next token.
    async claims() {
      const current = state.users[id] ?? user;
      const claims = { sub: id };
      for (const [k, v] of Object.entries(current)) {
        if (!RESERVED_USER_KEYS.has(k)) claims[k] = v;
      }
      return claims;
    },
  };
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><title>OIDC error</title></head><body>
<h1>oidc-provider error</h1><pre id="error">${htmlEscape(JSON.stringify(out, null, 2))}</pre>
</body></html>`;
}

async function logoutSource(ctx, form) {
  // `form` is oidc-provider's <form id="op.logoutForm"> with the xsrf token.
  ctx.body = `<!DOCTYPE html><html><head><title>Sign out</title></head><body>
<h1>Sign out of ${htmlEscape(ctx.host)}?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
</body></html>`;
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = '<!DOCTYPE html><html><head><title>Signed out</title></head><body><h1>Signed out</h1></body></html>';
}

// --- interaction pages ---------------------------------------------------------------------
function page(res, status, title, body) {
  const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${htmlEscape(title)}</title></head><body>${body}</body></html>`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

function loginPage(res, uid, { status = 200, error, login = '', clientId } = {}) {
  page(res, status, 'Sign in', `
<h1>Sign in${clientId ? ` to ${htmlEscape(clientId)}` : ''}</h1>
${error ? `<p id="error" role="alert">${htmlEscape(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${htmlEscape(uid)}/login" autocomplete="off">
  <label>Account <input type="text" name="login" value="${htmlEscape(login)}" required autofocus></label>
  <label>Password <input type="password" name="password"></label>
  <button type="submit">Sign in</button>
</form>
<form id="abort" method="post" action="/interaction/${htmlEscape(uid)}/abort">
  <button type="submit">Cancel</button>
</form>`);
}

function consentPage(res, uid, details) {
  const { missingOIDCScope = [], missingOIDCClaims = [] } = details.prompt.details;
  page(res, 200, 'Authorize', `
<h1>Authorize ${htmlEscape(details.params.client_id)}</h1>
<p>Scopes: <span id="scopes">${htmlEscape(missingOIDCScope.join(' '))}</span></p>
<p>Claims: <span id="claims">${htmlEscape(missingOIDCClaims.join(' '))}</span></p>
<form id="consent" method="post" action="/interaction/${htmlEscape(uid)}/confirm">
  <button type="submit">Allow</button>
</form>
<form id="abort" method="post" action="/interaction/${htmlEscape(uid)}/abort">
  <button type="submit">Deny</button>
</form>`);
}

async function grantConsent(details) {
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return { consent: { grantId: await grant.save() } };
}

async function handleInteraction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new BadRequest('interaction uid mismatch');
  const promptName = details.prompt.name;

  if (req.method === 'GET' && !action) {
    if (promptName === 'login') {
      return loginPage(res, uid, { clientId: details.params.client_id });
    }
    if (promptName === 'consent') {
      if (state.settings.auto_consent) {
        return provider.interactionFinished(req, res, await grantConsent(details), { mergeWithLastSubmission: true });
      }
      return consentPage(res, uid, details);
    }
    throw new BadRequest(`unsupported prompt ${promptName}`);
  }

  if (req.method !== 'POST') throw new BadRequest('method not allowed');
  const form = new URLSearchParams(await readBody(req));

  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  if (action === 'login') {
    if (promptName !== 'login') throw new BadRequest(`expected prompt login, got ${promptName}`);
    const login = form.get('login') ?? '';
    const user = state.users[login];
    const password = form.get('password') ?? '';
    if (!user || (user.password !== undefined && user.password !== password)) {
      return loginPage(res, uid, { status: 401, error: 'Invalid account or password', login, clientId: details.params.client_id });
    }
    const result = { login: { accountId: login } };
    if (user.amr) result.login.amr = user.amr;
    if (user.acr) result.login.acr = user.acr;
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  if (action === 'confirm') {
    if (promptName !== 'consent') throw new BadRequest(`expected prompt consent, got ${promptName}`);
    return provider.interactionFinished(req, res, await grantConsent(details), { mergeWithLastSubmission: true });
  }

  throw new BadRequest(`unknown interaction action ${action}`);
}

// --- control API ---------------------------------------------------------------------------
function json(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(data);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req) {
  const text = await readBody(req);
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest('body is not valid JSON');
  }
}

function publicState() {
  return {
    issuer,
    clients: [...state.clients.keys()],
    users: Object.keys(state.users),
    settings: state.settings,
    kids: state.keys.map((k) => k.kid),
  };
}

async function handleControl(req, res, path) {
  const route = `${req.method} ${path}`;
  let m;
  if (route === 'GET /__test__/health') return json(res, 200, { status: 'ok', ...publicState() });
  if (route === 'POST /__test__/users') {
    // Body: {"users": {...}, "replace": true}. replace=false merges per account (whole entries).
    const body = await readJson(req);
    if (typeof body.users !== 'object' || body.users === null) throw new BadRequest('users object required');
    state.users = body.replace === false ? { ...state.users, ...body.users } : { ...body.users };
    return json(res, 200, publicState());
  }
  if (req.method === 'PUT' && (m = path.match(/^\/__test__\/users\/([^/]+)$/))) {
    state.users[decodeURIComponent(m[1])] = await readJson(req);
    return json(res, 200, publicState());
  }
  if (req.method === 'DELETE' && (m = path.match(/^\/__test__\/users\/([^/]+)$/))) {
    delete state.users[decodeURIComponent(m[1])];
    return json(res, 200, publicState());
  }
  if (route === 'POST /__test__/clients') {
    // Body: one client object, or {"clients": [...]}; adds or replaces by client_id.
    const body = await readJson(req);
    const list = Array.isArray(body.clients) ? body.clients : [body];
    const next = new Map(state.clients);
    for (const c of list) {
      const n = normalizeClient(c);
      next.set(n.client_id, n);
    }
    const previous = state.clients;
    state.clients = next;
    try {
      buildProvider();
    } catch (err) {
      state.clients = previous;
      buildProvider();
      throw new BadRequest(`invalid client metadata: ${err.message}`);
    }
    return json(res, 200, publicState());
  }
  if (route === 'POST /__test__/settings') {
    const body = await readJson(req);
    state.settings = validateSettings({ ...state.settings, ...body });
    return json(res, 200, publicState());
  }
  if (route === 'POST /__test__/keys/rotate') {
    // Body: {"keep_old": true}. New key signs; old keys stay in the JWKS unless keep_old=false.
    const body = await readJson(req);
    const key = newSigningKey();
    state.keys = body.keep_old === false ? [key] : [key, ...state.keys];
    buildProvider();
    return json(res, 200, publicState());
  }
  if (route === 'POST /__test__/reset') {
    // Back to the config file's clients, users and settings (keys and sessions are kept).
    applyConfig(initial);
    buildProvider();
    return json(res, 200, publicState());
  }
  return json(res, 404, { error: 'not_found', path });
}

// --- server --------------------------------------------------------------------------------
async function dispatch(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const path = url.pathname;
  try {
    if (path.startsWith('/__test__/')) return await handleControl(req, res, path);
    const m = path.match(/^\/interaction\/([^/]+)(?:\/([a-z]+))?$/);
    if (m) return await handleInteraction(req, res, m[1], m[2]);
  } catch (err) {
    const status = err instanceof BadRequest ? 400 : (err.statusCode ?? err.status ?? 500);
    if (status >= 500) console.error(err);
    if (!res.headersSent) {
      return json(res, status, { error: err.name ?? 'error', error_description: err.message });
    }
    return res.end();
  }
  return providerHandler(req, res);
}

applyConfig(initial);

const server = http.createServer((req, res) => {
  dispatch(req, res);
});
server.keepAliveTimeout = 1000;

server.listen(requestedPort, host, () => {
  const { port } = server.address();
  issuer = (args.issuer ?? process.env.OIDC_PROVIDER_ISSUER ?? `http://${host}:${port}`).replace(/\/$/, '');
  buildProvider();
  const ready = JSON.stringify({ issuer, port, pid: process.pid });
  if (args['ready-file']) {
    writeFileSync(`${args['ready-file']}.tmp`, ready);
    renameSync(`${args['ready-file']}.tmp`, args['ready-file']);
  }
  console.log(`oidc test provider ready ${ready}`);
});

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (args['watch-stdin']) {
  // The harness holds our stdin open; if the test process dies, stdin closes and we exit.
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
}
