// Test peer: the real npm `oidc-provider` on 127.0.0.1:$PORT with dev interactions.
// Env: PORT, PEER_JWKS (private JWK set JSON), PEER_CLIENTS (client metadata JSON array).
// Test-only hook: POST /__test/mode {json} makes the token endpoint re-sign or tamper the
// id_token it returns ({claims:{...}} merged and re-signed with the real key, {alg:"none"},
// {hs256:"<secret>"} re-signed with HMAC, {tamper:true} one payload byte flipped,
// {drop:["nonce"]} claims removed, {typ:"JWT"} JOSE header typ set); {jwksStatus:503}
// makes the JWKS endpoint answer that status (an IdP whose keys are unreachable).
// Resource indicators: a JWT access token's audience is the requested resource.
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const jwks = JSON.parse(process.env.PEER_JWKS);
const clients = JSON.parse(process.env.PEER_CLIENTS);

const accounts = {
  alice: { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell',
           preferred_username: 'alice', picture: 'https://img.example/alice.png', roles: ['admin'] },
  bob: { sub: 'bob', email: 'bob@example.com', email_verified: false, given_name: 'Bob', family_name: 'Builder',
         roles: ['viewer'] },
};

const provider = new Provider(issuer, {
  clients,
  jwks,
  cookies: { keys: ['peer-cookie-key-not-secret-0123456789'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'roles'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resourceIndicator) => ({
        scope: 'api', audience: resourceIndicator, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  issueRefreshToken: async () => true,
  pkce: { required: () => true },
  ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 86400 },
  async findAccount(ctx, id) {
    const account = accounts[id] ?? { sub: id, email: `${id}@example.com` };
    return { accountId: id, async claims() { return { ...account, sub: id }; } };
  },
});
provider.proxy = false;

let mode = {};
const signingJwk = jwks.keys[0];

async function rewrite(idToken) {
  const [h, p, s] = idToken.split('.');
  if (mode.tamper) {
    const payload = JSON.parse(Buffer.from(p, 'base64url'));
    payload.sub = 'mallory';
    return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  }
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url')), ...(mode.claims ?? {}) };
  for (const name of mode.drop ?? []) delete payload[name];
  if (mode.alg === 'none') {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
  }
  if (mode.hs256) {
    return new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(mode.hs256));
  }
  const key = await jose.importJWK(signingJwk, 'RS256');
  const header = { alg: 'RS256', kid: mode.kid ?? signingJwk.kid, ...(mode.typ ? { typ: mode.typ } : {}) };
  return new jose.SignJWT(payload).setProtectedHeader(header).sign(key);
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/mode' && ctx.method === 'POST') {
    let raw = '';
    for await (const chunk of ctx.req) raw += chunk;
    mode = JSON.parse(raw || '{}');
    ctx.body = { ok: true };
    return;
  }
  if (ctx.path === '/jwks' && mode.jwksStatus) {
    ctx.status = mode.jwksStatus;
    ctx.body = 'JWKS unavailable';
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token && Object.keys(mode).length) {
    ctx.body = { ...ctx.body, id_token: await rewrite(ctx.body.id_token) };
  }
});

provider.listen(port, '127.0.0.1', () => { console.log(`READY ${issuer}`); });
