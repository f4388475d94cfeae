// The peer `tweestap bench compare` measures Tweestap against (bench/compare.py): panva's
// oidc-provider (OpenID-certified), in one process with its in-memory store and opaque
// tokens, serving RFC 7662 introspection, the refresh grant and the code exchange to one
// confidential client (client_secret_basic, PKCE S256, RS256 ID tokens as Tweestap's default).
// Never a runtime dependency of Tweestap: installed by `make peers` into tests/peers.
//
// Environment:
//   PEER_PORT   port on 127.0.0.1
//   PEER_SECRET the client's secret (client_id bench-app)
//
// POST /_bench/mint {"codes": n, "chains": m} (before the load, not measured) answers what the
// load presents, made the way the provider makes them after a login: an access token,
// m refresh tokens (one grant each) and n authorization codes with their PKCE verifiers.

import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.env.PEER_PORT || 8950);
const issuer = `http://127.0.0.1:${port}`;
const clientId = 'bench-app';
const redirectUri = 'https://app.bench.example/callback';
const scope = 'openid offline_access';
const accountId = 'bench-employee';

// oidc-provider's own in-memory adapter is an LRU of 1,000 entries: the bench mints tens of
// thousands of codes before its load, so this one keeps everything (a Map per model).
const stores = new Map();
const byGrant = new Map();

class MapAdapter {
  constructor(name) {
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }

  async upsert(id, payload) {
    this.store.set(id, payload);
    if (payload.grantId) {
      if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, []);
      byGrant.get(payload.grantId).push([this.store, id]);
    }
  }

  async find(id) {
    return this.store.get(id);
  }

  async findByUid(uid) {
    return [...this.store.values()].find((p) => p.uid === uid);
  }

  async findByUserCode(userCode) {
    return [...this.store.values()].find((p) => p.userCode === userCode);
  }

  async consume(id) {
    const payload = this.store.get(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [store, id] of byGrant.get(grantId) || []) store.delete(id);
    byGrant.delete(grantId);
  }
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'peer-1', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients: [{
    client_id: clientId,
    client_secret: process.env.PEER_SECRET || 'bench-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    return { accountId: sub, claims: async () => ({ sub }) };
  },
});

async function grant(client) {
  const made = new provider.Grant({ accountId, clientId });
  made.addOIDCScope(scope);
  return made.save();
}

function pkce() {
  const verifier = crypto.randomBytes(36).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

async function mint(codes, chains) {
  const client = await provider.Client.find(clientId);
  const grantId = await grant(client);
  const common = { client, accountId, grantId, scope, expiresWithSession: false };
  const access = await new provider.AccessToken({ ...common, gty: 'authorization_code' }).save();
  const refresh = [];
  for (let i = 0; i < chains; i += 1) {
    const own = await grant(client);
    refresh.push(await new provider.RefreshToken({
      ...common, grantId: own, gty: 'authorization_code', iiat: Math.floor(Date.now() / 1000), rotations: 0,
    }).save());
  }
  const made = [];
  for (let i = 0; i < codes; i += 1) {
    const { verifier, challenge } = pkce();
    const code = await new provider.AuthorizationCode({
      ...common,
      grantId: await grant(client),
      redirectUri,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      authTime: Math.floor(Date.now() / 1000),
    }).save();
    made.push([code, verifier]);
  }
  return { access_token: access, refresh_tokens: refresh, codes: made };
}

const callback = provider.callback();
http.createServer(async (req, res) => {
  if (req.method === 'POST' && req.url === '/_bench/mint') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const { codes = 0, chains = 0 } = JSON.parse(body || '{}');
    const minted = await mint(codes, chains);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(minted));
    return;
  }
  callback(req, res);
}).listen(port, '127.0.0.1', () => {
  console.log(`bench peer at ${issuer}`);
});
