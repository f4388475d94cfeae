// A stand-in for Dezi: panva's oidc-provider (an OpenID Provider Tweestap did not write),
// issuing Dezi's claims for the test accounts in accounts.json. The tests start it (one per
// test module), and `make dezi` runs it for trying a Dezi login under `tweestap dev`.
//
// Environment:
//   DEZI_PORT       port on 127.0.0.1 (default 8900)
//   DEZI_ISSUER     its issuer (default http://localhost:$DEZI_PORT)
//   DEZI_CLIENTS    JSON list of client registrations (oidc-provider's client metadata)
//   DEZI_ACCOUNTS   the accounts file (default accounts.json beside this file)
//   DEZI_TEST_CONTROL=1  serves POST /_test/mode: what the provider does wrong next (tests)
//
// The login page lists the accounts: choosing one logs in as that person (no password: it is
// a test provider). Consent is implied for every client (loadExistingGrant).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.DEZI_PORT || 8900);
const issuer = process.env.DEZI_ISSUER || `http://localhost:${port}`;
const accounts = JSON.parse(
  fs.readFileSync(process.env.DEZI_ACCOUNTS || path.join(here, 'accounts.json'), 'utf8'),
);
const clients = JSON.parse(
  process.env.DEZI_CLIENTS
    || JSON.stringify([{
      client_id: 'tweestap-dev',
      client_secret: 'tweestap-dev-secret',
      redirect_uris: ['http://localhost:8100/login/dezi/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
    }]),
);
const testControl = process.env.DEZI_TEST_CONTROL === '1';

// Every claim any account has, released with the openid scope.
const claimNames = [...new Set(Object.values(accounts).flatMap((a) => Object.keys(a)))];

async function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

function publicOnly(jwk) {
  const { kty, n, e, kid, alg, use } = jwk;
  return { kty, n, e, kid, alg, use };
}

function subjectOf(name) {
  // Dezi's sub is an opaque identifier of the person, not their Dezi number.
  return crypto.createHash('sha256').update(`dezi-test:${name}`).digest('hex').slice(0, 32);
}

const bySubject = Object.fromEntries(Object.keys(accounts).map((name) => [subjectOf(name), name]));
const key = await signingKey();
const foreignKey = await signingKey();

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [key] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: { openid: ['sub', ...claimNames] },
  // Dezi's claims in the ID token itself (as Dezi's ID token carries them), and in userinfo.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    jwtUserinfo: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    const name = bySubject[sub];
    if (!name) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...accounts[name] }) };
  },
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope('openid');
    grant.addOIDCClaims(claimNames);
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 600, Session: 600, Grant: 600 },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Fout</title><main><h1 id="error">${escape(out.error)}</h1><p>${escape(out.error_description || '')}</p></main>`;
  },
});
provider.proxy = false;

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, clientId) {
  const choices = Object.entries(accounts).map(([name, a]) => {
    const who = [a.voorletters || a.initials, a.voorvoegsel || a.surname_prefix, a.achternaam || a.surname]
      .filter(Boolean).join(' ');
    const number = a.dezi_nummer || a.Dezi_id;
    return `<li><button type="submit" name="account" value="${escape(name)}" id="account-${escape(name)}">`
      + `${escape(who)} (${escape(number)})</button></li>`;
  }).join('');
  return `<!doctype html><html lang="nl"><title>Test-Dezi</title><main>
<h1>Test-Dezi: inloggen voor ${escape(clientId)}</h1>
<form method="post" action="/interaction/${escape(uid)}/login"><ul>${choices}</ul></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button id="abort" type="submit">Annuleren</button></form>
</main></html>`;
}

async function readForm(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

// What the provider does wrong next (tests only): see the modes below.
let mode = 'normal';
const MODES = new Set(['normal', 'foreign-jwks', 'tamper', 'wrong-nonce', 'token-down', 'down']);

function tamper(jwt) {
  // A claim changed after signing: the signature no longer fits the payload.
  const [header, payload, signature] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  claims.dezi_nummer = '999999999';
  claims.Dezi_id = '999999999';
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

provider.use(async (ctx, next) => {
  if (testControl && ctx.path === '/_test/mode' && ctx.method === 'POST') {
    const wanted = (await readForm(ctx.req)).get('mode') || 'normal';
    if (!MODES.has(wanted)) ctx.throw(400, `unknown mode ${wanted}`);
    mode = wanted;
    ctx.body = { mode };
    return;
  }
  if (mode === 'down') {
    ctx.status = 503;
    ctx.body = 'down';
    return;
  }
  if (mode === 'token-down' && ctx.path === '/token') {
    ctx.status = 503;
    ctx.body = 'down';
    return;
  }
  if (mode === 'foreign-jwks' && ctx.path === '/jwks') {
    ctx.type = 'application/jwk-set+json';
    ctx.body = { keys: [publicOnly(foreignKey)] };
    return;
  }
  if (mode === 'wrong-nonce' && ctx.path === '/auth' && ctx.method === 'GET' && ctx.query.nonce) {
    const params = new URLSearchParams(ctx.querystring);
    params.set('nonce', `not-${params.get('nonce')}`);
    ctx.querystring = params.toString();
  }
  const interaction = ctx.path.match(/^\/interaction\/([^/]+)(\/login|\/abort)?$/);
  if (interaction) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (!interaction[2] && ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, details.params.client_id);
      return;
    }
    if (ctx.method !== 'POST') ctx.throw(405);
    let result;
    if (interaction[2] === '/abort') {
      result = { error: 'access_denied', error_description: 'De gebruiker heeft het inloggen afgebroken.' };
    } else {
      const name = (await readForm(ctx.req)).get('account');
      if (!accounts[name]) ctx.throw(400, 'unknown account');
      result = { login: { accountId: subjectOf(name) } };
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.redirect(to);
    ctx.status = 303;
    return;
  }
  await next();
  if (mode === 'tamper' && ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: tamper(ctx.body.id_token) };
  }
});

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`test Dezi at ${issuer} (accounts: ${Object.keys(accounts).join(', ')})\n`);
});
