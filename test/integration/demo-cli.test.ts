/**
 * `bimip demo` as a child process (dist/cli/main.js): its safety rules (loopback only unless
 * --allow-remote-demo, loopback Host headers, JSON-only token requests) and its routes. The page
 * itself is driven in a browser by test/e2e/demo.e2e.test.ts.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { JwtAuthenticator } from '../../src/auth/jwt-authenticator.js';
import { tempDir } from '../helpers/harness.js';
import { freePort, type ServerProcess, startServerProcess, stopProcess } from '../helpers/server-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist/cli/main.js');
const SECRET = 'demo-cli-test-secret-0123456789';

/** Runs `bimip <args>` with only PATH and `env`; resolves with its exit code and stderr. */
function bimip(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 15_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

/** A raw HTTP request (fetch cannot set Host). */
function http(
  port: number,
  options: { method?: string; path: string; host?: string; contentType?: string; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: options.host ?? `127.0.0.1:${port}` };
    if (options.contentType) headers['content-type'] = options.contentType;
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('bimip demo', () => {
  let dataDir: string;
  let port: number;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/demo/app.js'))) {
      const built = spawnSync(process.execPath, [join(ROOT, 'demo/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
      if (built.status !== 0) throw new Error(`node demo/build.mjs failed:\n${built.stdout}${built.stderr}`);
    }
    dataDir = tempDir('bimip-demo-cli-');
    port = await freePort();
    server = await startServerProcess({ port, dataDir, secret: SECRET, args: ['demo', '--token-ttl', '300'] });
  }, 30_000);

  afterAll(async () => {
    await stopProcess(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('demo - refuses a non-loopback interface with exit 2 (tokens for anyone), before creating anything', async () => {
    const parent = tempDir('bimip-demo-refused-');
    onTestFinished(() => rmSync(parent, { recursive: true, force: true }));
    const refusedDir = join(parent, 'data');
    for (const args of [
      ['demo', '--host', '0.0.0.0', '--data-dir', refusedDir],
      ['demo', '--host', '192.0.2.10', '--data-dir', refusedDir],
    ]) {
      const run = await bimip(args);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('refusing to serve the demo');
      expect(run.stderr).toContain('--allow-remote-demo');
    }
    const viaEnv = await bimip(['demo', '--data-dir', refusedDir], { BIMIP_HOST: '0.0.0.0' });
    expect(viaEnv.code).toBe(2);
    expect(existsSync(refusedDir)).toBe(false);
    // Token lifetimes under the SDK's renewal margin would make the page reconnect without pause.
    expect((await bimip(['demo', '--token-ttl', '30', '--data-dir', refusedDir])).code).toBe(2);
  });

  it('demo - serves the page with a strict CSP, and the bundled script', async () => {
    const page = await http(port, { path: '/demo/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('id="messages"');
    const script = await http(port, { path: '/demo/app.js' });
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect((await http(port, { path: '/demo' })).status).toBe(302);
    expect((await http(port, { path: '/demo/../package.json' })).status).toBe(404);
    expect((await http(port, { path: '/demo/nothing.js' })).status).toBe(404);
    // The server's own routes are untouched.
    expect((await http(port, { path: '/healthz' })).status).toBe(200);
  });

  it('demo - POST /demo/token signs a short-lived token for (eid, device) with the server secret', async () => {
    const answer = await http(port, {
      method: 'POST',
      path: '/demo/token',
      contentType: 'application/json',
      body: JSON.stringify({ eid: 'alice', device: 'web1' }),
    });
    expect(answer.status).toBe(200);
    const { token, expires_at } = JSON.parse(answer.body) as { token: string; expires_at: number };
    const principal = await JwtAuthenticator.withSecret(SECRET).authenticate(token);
    expect(principal).toMatchObject({ eid: 'alice', deviceId: 'web1' });
    expect(expires_at - Date.now()).toBeGreaterThan(290_000);
    expect(expires_at - Date.now()).toBeLessThanOrEqual(300_000);
  });

  it('demo - token requests must be JSON, well-formed, POST, and addressed to a loopback name', async () => {
    const body = JSON.stringify({ eid: 'alice', device: 'web1' });
    expect((await http(port, { method: 'POST', path: '/demo/token', contentType: 'text/plain', body })).status).toBe(415);
    expect((await http(port, { method: 'GET', path: '/demo/token' })).status).toBe(405);
    expect((await http(port, { method: 'POST', path: '/demo/token', contentType: 'application/json', body: '{"eid":"alice"}' })).status).toBe(400);
    expect((await http(port, { method: 'POST', path: '/demo/token', contentType: 'application/json', body: 'nope' })).status).toBe(400);
    const tooLong = JSON.stringify({ eid: 'a'.repeat(300), device: 'web1' });
    expect((await http(port, { method: 'POST', path: '/demo/token', contentType: 'application/json', body: tooLong })).status).toBe(400);
    // DNS rebinding: a page on another name that resolves to 127.0.0.1 gets nothing.
    const rebound = await http(port, { method: 'POST', path: '/demo/token', host: `evil.example:${port}`, contentType: 'application/json', body });
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain('token"');
    expect((await http(port, { path: '/demo/', host: 'evil.example' })).status).toBe(403);
    expect((await http(port, { method: 'POST', path: '/demo/token', host: `localhost:${port}`, contentType: 'application/json', body })).status).toBe(200);
    expect((await http(port, { method: 'POST', path: '/demo/token', host: `[::1]:${port}`, contentType: 'application/json', body })).status).toBe(200);
  });
});
