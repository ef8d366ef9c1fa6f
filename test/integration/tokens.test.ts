/** Token lifecycle (SPEC §2, §6 F8; issue #4) over real sockets and HTTP. */
import Database from 'better-sqlite3';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { setUpAuth } from '../../src/cli/auth-setup.js';
import { BimipConnection, TokenAuthorityError } from '../../src/client/index.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { TEST_SECRET, startHarness, startServerOnStore, tempDir, type Harness } from '../helpers/harness.js';

const ADMIN = 'admin-token-0123456789';
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(): Promise<Harness> {
  h = await startHarness({ adminToken: ADMIN, sweepIntervalMs: 100 });
  return h;
}

/** The HTTP status of an upgrade attempt with `token` (101 = accepted). */
function upgradeStatus(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('error', () => undefined);
  });
}

async function post(harness: Harness, path: string, body: unknown, bearer: string | undefined = ADMIN) {
  const response = await fetch(`http://127.0.0.1:${harness.server.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('tokens', () => {
  it('tokens - POST /v1/tokens issues a pair; REFRESH over the socket rotates it; the old refresh token is spent', async () => {
    const server = await harness();
    const issued = await post(server, '/v1/tokens', { eid: 'a@example.com', device: 'phone' });
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({ token_type: 'Bearer', eid: 'a@example.com', device: 'phone' });
    const client = await BimipConnection.connect({ url: server.server.url, token: issued.body['access_token'] as string });
    const pair = await client.refreshToken(issued.body['refresh_token'] as string);
    expect(pair.accessToken).not.toBe(issued.body['access_token']);
    expect(pair.refreshToken).not.toBe(issued.body['refresh_token']);
    expect(await upgradeStatus(server.server.url, pair.accessToken)).toBe(101);
    // The new refresh token works once over HTTP too.
    const again = await post(server, '/v1/tokens/refresh', { refresh_token: pair.refreshToken }, undefined);
    expect(again.status).toBe(200);
    await client.close();
  });

  it('tokens - a reused refresh token is refused and revokes its family: live connections close 4001 within 1 s', async () => {
    const server = await harness();
    const first = await server.tokens.issuePair('a@example.com', 'phone');
    const second = await server.tokens.refresh(first.refreshToken);
    const live = await BimipConnection.connect({ url: server.server.url, token: second.accessToken });
    await live.caughtUp;
    const other = await server.connect('a@example.com', 'laptop');
    await expect(other.refreshToken(first.refreshToken)).rejects.toBeInstanceOf(TokenAuthorityError);
    const started = Date.now();
    expect((await live.closed).code).toBe(4001);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await upgradeStatus(server.server.url, second.accessToken)).toBe(401);
    await expect(server.tokens.refresh(second.refreshToken)).rejects.toMatchObject({ code: 401 });
    expect(other.isOpen).toBe(true);
  });

  it('tokens - VALIDATE answers for a valid token and refuses a forged one', async () => {
    const server = await harness();
    const client = await server.connect('a@example.com', 'phone');
    const valid = await client.validateToken(await server.token('b@example.com', 'tablet'));
    expect(valid).toMatchObject({ task: 2, details: 'valid', to: { eid: 'b@example.com', connectionResourceId: 'tablet' } });
    const forged = await new SignJWT({ eid: 'b@example.com', device_id: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setJti('j')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-0123456789'));
    await expect(client.validateToken(forged)).rejects.toBeInstanceOf(TokenAuthorityError);
  });

  it('revoke - REVOKE of one’s own token closes its connection with 4001 within 1 s and refuses it at the next upgrade; durable across restart', async () => {
    const server = await harness();
    const token = await server.token('a@example.com', 'phone');
    const victim = await BimipConnection.connect({ url: server.server.url, token });
    await victim.caughtUp;
    const revoker = await server.connect('a@example.com', 'laptop');
    const started = Date.now();
    await revoker.revokeToken(token);
    expect((await victim.closed).code).toBe(4001);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await upgradeStatus(server.server.url, token)).toBe(401);
    await server.restart();
    expect(await upgradeStatus(server.server.url, token)).toBe(401);
  });

  it('revoke - a user cannot revoke someone else’s token; the admin API can, by jti', async () => {
    const server = await harness();
    const pair = await server.tokens.issuePair('b@example.com', 'phone');
    const mallory = await server.connect('a@example.com', 'phone');
    await expect(mallory.revokeToken(pair.accessToken)).rejects.toBeInstanceOf(TokenAuthorityError);
    const victim = await BimipConnection.connect({ url: server.server.url, token: pair.accessToken });
    await victim.caughtUp;
    const principal = await server.tokens.validate(pair.accessToken);
    const revoked = await post(server, '/v1/tokens/revoke', { jti: principal.jti });
    expect(revoked).toMatchObject({ status: 200, body: { revoked: [principal.jti], closed_connections: 1 } });
    expect((await victim.closed).code).toBe(4001);
  });

  it('tokens - refresh tokens are stored hashed', async () => {
    const server = await harness();
    const pair = await server.tokens.issuePair('a@example.com', 'phone');
    const db = new Database(join(server.dataDir, 'auth.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT * FROM refresh_tokens').all() as Array<Record<string, unknown>>;
    db.close();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(pair.refreshToken);
    expect(JSON.stringify(rows)).not.toContain(pair.refreshToken.slice('bimip_rt_'.length));
  });
});

describe('logout', () => {
  it('logout - DEVICE revokes the token, deletes the cursor and closes; other devices stay', async () => {
    const server = await harness();
    const pair = await server.tokens.issuePair('a@example.com', 'phone');
    const phone = await BimipConnection.connect({ url: server.server.url, token: pair.accessToken });
    await phone.caughtUp;
    const laptop = await server.connect('a@example.com', 'laptop');
    await laptop.caughtUp;
    const answer = await phone.logout();
    expect(answer).toMatchObject({ type: 1, status: 1 });
    expect((await phone.closed).code).toBe(1000);
    expect(await upgradeStatus(server.server.url, pair.accessToken)).toBe(401);
    await expect(server.tokens.refresh(pair.refreshToken)).rejects.toMatchObject({ code: 401 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await server.store.getCursor('a@example.com', 'phone')).toBeUndefined();
    expect(laptop.isOpen).toBe(true);
    // A token issued after the logout works.
    expect(await upgradeStatus(server.server.url, await server.token('a@example.com', 'phone'))).toBe(101);
  });

  it('logout - ACCOUNT closes every device of the user with 4001 and refuses every earlier token', async () => {
    const server = await harness();
    const phone = await server.connect('a@example.com', 'phone');
    const laptopToken = await server.token('a@example.com', 'laptop');
    const laptop = await BimipConnection.connect({ url: server.server.url, token: laptopToken });
    await laptop.caughtUp;
    const bob = await server.connect('b@example.com', 'phone');
    await phone.logout(true);
    expect((await laptop.closed).code).toBe(4001);
    expect((await phone.closed).code).toBe(1000);
    expect(await upgradeStatus(server.server.url, laptopToken)).toBe(401);
    expect(bob.isOpen).toBe(true);
    expect(await upgradeStatus(server.server.url, await server.token('a@example.com', 'laptop'))).toBe(101);
  });
});

/** A standard JWT as other issuers mint it: whole-second `iat`, a new jti, no `iat_ms`. */
function standardJwt(eid: string, device: string): Promise<string> {
  return new SignJWT({ eid, device_id: device })
    .setProtectedHeader({ alg: 'HS256' })
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(TEST_SECRET));
}

describe('logout - a fresh login right after it (issue #7 item 3)', () => {
  it('logout - a whole-second-iat token minted right after DEVICE logout is accepted; the logged-out one stays refused', async () => {
    const server = await harness();
    // Repeat so that some logouts fall in the same second as the new token's iat.
    for (let round = 0; round < 5; round++) {
      const oldToken = await standardJwt('a@example.com', 'phone');
      const phone = await BimipConnection.connect({ url: server.server.url, token: oldToken });
      await phone.caughtUp;
      await phone.logout();
      expect((await phone.closed).code).toBe(1000);
      const fresh = await standardJwt('a@example.com', 'phone');
      expect(await upgradeStatus(server.server.url, fresh), `round ${round}: fresh token`).toBe(101);
      expect(await upgradeStatus(server.server.url, oldToken), `round ${round}: logged-out token`).toBe(401);
    }
  });

  it("logout - after ACCOUNT logout a fresh standard token works and the other devices' live tokens stay refused", async () => {
    const server = await harness();
    const laptopToken = await standardJwt('a@example.com', 'laptop');
    const laptop = await BimipConnection.connect({ url: server.server.url, token: laptopToken });
    await laptop.caughtUp;
    const phone = await BimipConnection.connect({ url: server.server.url, token: await standardJwt('a@example.com', 'phone') });
    await phone.caughtUp;
    await phone.logout(true);
    expect((await laptop.closed).code).toBe(4001);
    expect(await upgradeStatus(server.server.url, laptopToken)).toBe(401);
    expect(await upgradeStatus(server.server.url, await standardJwt('a@example.com', 'laptop'))).toBe(101);
  });
});

describe('external issuer', () => {
  it('tokens - with only a public key, access tokens verify and REFRESH answers an error', async () => {
    const dir = tempDir();
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicPath = join(dir, 'issuer.pem');
    writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
    const auth = await setUpAuth({
      dataDir: dir,
      jwtSecret: undefined,
      jwtPublicKeyPath: publicPath,
      jwtIssuer: undefined,
      jwtAudience: undefined,
      accessTtlSeconds: 3600,
      refreshTtlSeconds: 3600,
    });
    const store = await SqliteMessageStore.open({ path: join(dir, 'bimip.sqlite') });
    const server = await startServerOnStore(store, auth.tokens);
    try {
      const key = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'EdDSA');
      const token = await new SignJWT({ eid: 'a@example.com', device_id: 'phone' })
        .setProtectedHeader({ alg: 'EdDSA' })
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key);
      const client = await BimipConnection.connect({ url: server.url, token });
      await client.caughtUp;
      await expect(client.refreshToken('bimip_rt_whatever')).rejects.toThrow(/external/);
      await client.close();
    } finally {
      await server.stop();
      await auth.store.close();
    }
  });
});
