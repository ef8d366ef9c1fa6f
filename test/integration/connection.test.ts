/** Connection lifecycle (SPEC §2) and the HTTP endpoints (SPEC §8) over real sockets. */
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BimipConnection } from '../../src/client/index.js';
import { JwtAuthenticator } from '../../src/auth/jwt-authenticator.js';
import { startHarness, tempDir, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const httpUrl = (harness: Harness, path: string) => `http://127.0.0.1:${harness.server.port}${path}`;

describe('connection lifecycle', () => {
  it('idle - a connection that sends nothing for the idle timeout is closed with 4008', async () => {
    h = await startHarness({ idleTimeoutMs: 300, sweepIntervalMs: 50 });
    const quiet = await h.connect('a@example.com', 'phone');
    const chatty = await h.connect('b@example.com', 'phone');
    const pinger = setInterval(() => void chatty.ping().catch(() => undefined), 100);
    try {
      const closed = await quiet.closed;
      expect(closed.code).toBe(4008);
      expect(chatty.isOpen).toBe(true);
    } finally {
      clearInterval(pinger);
    }
  });

  it('expiry - a connection is closed with 4001 when its token expires', async () => {
    h = await startHarness({ sweepIntervalMs: 50 });
    // exp is in whole seconds (iat rounded down), so a 2 s token lives 1–2 s: long enough to connect
    // under a loaded CI (a 1 s token could be dead on arrival), short enough for the test.
    const token = await h.issuer.issueAccessToken({ eid: 'a@example.com', deviceId: 'phone', ttlSeconds: 2 });
    const client = await BimipConnection.connect({ url: h.server.url, token });
    const started = Date.now();
    const closed = await client.closed;
    expect(closed.code).toBe(4001);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('shutdown - stop() acks what was accepted, then closes every connection with 1001', async () => {
    h = await startHarness({ session: { ratePerSecond: 0 } });
    const a = await h.connect('a@example.com', 'phone');
    await a.caughtUp;
    const sends = Array.from({ length: 50 }, (_, i) => a.send({ to: 'b@example.com', id: `s${i}` }).catch((err: Error) => err));
    // Wait until the server has read the frames (a PONG follows them on the same socket).
    await a.ping();
    const stopping = h.server.stop();
    const results = await Promise.all(sends);
    expect(results.every((result) => !(result instanceof Error) && result.code === 200)).toBe(true);
    expect((await a.closed).code).toBe(1001);
    await stopping;
  });

  it('query token - a browser can pass the token as ?token=', async () => {
    h = await startHarness();
    const token = await h.token('a@example.com', 'browser');
    const { WebSocket } = await import('ws');
    const client = await BimipConnection.connect({
      url: h.server.url,
      token,
      webSocket: (url, t) => new WebSocket(`${url}?token=${encodeURIComponent(t)}`) as never,
    });
    expect((await client.ping()).type).toBe(2);
    await client.close();
  });
});

describe('http', () => {
  it('healthz - 200 while the store answers, 503 once it is closed', async () => {
    h = await startHarness();
    const ok = await fetch(httpUrl(h, '/healthz'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok' });
    await h.store.close();
    const down = await fetch(httpUrl(h, '/healthz'));
    expect(down.status).toBe(503);
  });

  it('metrics - Prometheus text with connections, frames, stored messages, acks, commit batches and delivery lag', async () => {
    h = await startHarness();
    const b = await h.connect('b@example.com', 'phone');
    await b.caughtUp;
    const a = await h.connect('a@example.com', 'phone');
    await a.caughtUp;
    expect((await a.send({ to: 'b@example.com', id: 'x' })).code).toBe(200);
    for await (const entry of b.entries) {
      expect(entry.offset).toBe(1);
      break;
    }
    const body = await (await fetch(httpUrl(h, '/metrics'))).text();
    expect(body).toMatch(/^bimip_connections 2$/m);
    expect(body).toMatch(/^bimip_frames_total\{route="message",direction="in"\} 1$/m);
    expect(body).toMatch(/^bimip_frames_total\{route="message",direction="out"\} 1$/m);
    expect(body).toMatch(/^bimip_messages_stored_total 1$/m);
    expect(body).toMatch(/^bimip_acks_total\{code="200"\} 1$/m);
    expect(body).toMatch(/^bimip_delivery_lag_seconds_count 1$/m);
    expect(body).toContain('bimip_commit_batch_size_bucket');
    expect(body).not.toContain('a@example.com');
  });

  it('http - unknown paths answer 404 JSON', async () => {
    h = await startHarness();
    const response = await fetch(httpUrl(h, '/nope'));
    expect(response.status).toBe(404);
  });
});

describe('cli', () => {
  it('cli - `bimip token` prints a token the server accepts, signed with the data dir secret', async () => {
    const dataDir = tempDir();
    // A fresh data dir has no secret: --create-secret makes one (without it the command refuses, cli-admin.test.ts).
    const token = execFileSync('node', ['dist/cli/main.js', 'token', '--eid', 'a@example.com', '--device', 'phone', '--ttl', '60', '--create-secret'], {
      env: { ...process.env, BIMIP_DATA_DIR: dataDir, BIMIP_JWT_SECRET: '' },
      encoding: 'utf8',
    }).trim();
    const { readFileSync } = await import('node:fs');
    const secret = readFileSync(`${dataDir}/jwt-secret`, 'utf8').trim();
    const principal = await JwtAuthenticator.withSecret(secret).authenticate(token);
    expect(principal).toMatchObject({ eid: 'a@example.com', deviceId: 'phone' });
    expect(principal.expiresAt - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it('cli - a bad setting exits with code 2 and names the variable', () => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync('node', ['dist/cli/main.js', 'serve'], { env: { ...process.env, BIMIP_PORT: 'eighty' }, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: string }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toContain('BIMIP_PORT');
  });
});
