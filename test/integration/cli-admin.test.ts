/**
 * The `bimip` command as a child process (the built dist/cli/main.js): --version, `token`'s refusal
 * to mint with a new secret, the operator commands against a live server (revoke, kick, status) and
 * `check-config`; and the token command `serve`'s banner prints.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { JwtAuthenticator } from '../../src/auth/jwt-authenticator.js';
import { openDevice } from '../helpers/device-socket.js';
import { type Harness, startHarness, tempDir } from '../helpers/harness.js';
import { POSTGRES_URL } from '../helpers/postgres.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { freePort, type ServerProcess, startServerProcess, stopProcess } from '../helpers/server-process.js';
import { waitFor, within } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));
const ADMIN = 'admin-token-0123456789';

let teardown: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of teardown.reverse()) await step();
  teardown = [];
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bimip <args>` with only PATH and `env` (nothing of this process's BIMIP_* leaks in), in `cwd`.
 * Asynchronous: the server under test runs in this process and must keep answering.
 */
function bimip(args: string[], env: Record<string, string> = {}, cwd = tmpdir()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function adminServer(): Promise<{ h: Harness; url: string }> {
  const h = await startHarness({ adminToken: ADMIN });
  teardown.push(() => h.close());
  return { h, url: `http://127.0.0.1:${h.server.port}` };
}

function scratchDir(): string {
  const dir = tempDir();
  teardown.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('cli - version and token', () => {
  it('cli - `bimip --version` prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
    expect(await bimip(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('cli - `bimip token` refuses (2) when the data dir has no secret, naming the dir; creates nothing', async () => {
    const cwd = scratchDir();
    const run = await bimip(['token', '--eid', 'a@example.com', '--device', 'phone'], {}, cwd);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(join(cwd, 'data'));
    expect(run.stderr).toContain('--data-dir');
    expect(run.stderr).toContain('BIMIP_JWT_SECRET');
    expect(run.stderr).toContain('--create-secret');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('cli - `bimip token --create-secret` creates the secret; later calls sign with it', async () => {
    const dataDir = join(scratchDir(), 'data');
    const created = await bimip(['token', '--eid', 'a@example.com', '--device', 'phone', '--data-dir', dataDir, '--create-secret']);
    expect(created.code).toBe(0);
    const secret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
    const again = await bimip(['token', '--eid', 'a@example.com', '--device', 'laptop'], { BIMIP_DATA_DIR: dataDir });
    expect(again.code).toBe(0);
    const verifier = JwtAuthenticator.withSecret(secret);
    expect(await verifier.authenticate(created.stdout.trim())).toMatchObject({ eid: 'a@example.com', deviceId: 'phone' });
    expect(await verifier.authenticate(again.stdout.trim())).toMatchObject({ eid: 'a@example.com', deviceId: 'laptop' });
  });

  it('cli - with BIMIP_JWT_SECRET `bimip token` needs no secret file', async () => {
    const cwd = scratchDir();
    const run = await bimip(['token', '--eid', 'a@example.com', '--device', 'phone'], { BIMIP_JWT_SECRET: 'env-secret-0123456789' }, cwd);
    expect(run.code).toBe(0);
    expect(await JwtAuthenticator.withSecret('env-secret-0123456789').authenticate(run.stdout.trim())).toMatchObject({ eid: 'a@example.com' });
    expect(existsSync(join(cwd, 'data', 'jwt-secret'))).toBe(false);
  });
});

describe('cli - operator commands', () => {
  it('cli - `bimip kick` closes the device with 1008 and prints the JSON answer', async () => {
    const { h, url } = await adminServer();
    const phone = await openDevice(h.server.url, await h.token('a@example.com', 'phone'));
    const laptop = await openDevice(h.server.url, await h.token('a@example.com', 'laptop'));
    teardown.push(() => phone.close());
    teardown.push(() => laptop.close());
    const run = await bimip(['kick', '--eid', 'a@example.com', '--device', 'phone', '--url', url], { BIMIP_ADMIN_TOKEN: ADMIN });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ closed_connections: 1 });
    expect(await within(phone.closed, 'the phone to close')).toEqual({ code: 1008, reason: 'kicked by operator' });
    expect(laptop.isOpen).toBe(true);
  });

  it('cli - `bimip status --eid` prints the node and the user queue; the URL comes from BIMIP_HOST/BIMIP_PORT', async () => {
    const { h } = await adminServer();
    const phone = await openDevice(h.server.url, await h.token('a@example.com', 'phone'));
    teardown.push(() => phone.close());
    const env = { BIMIP_HOST: '127.0.0.1', BIMIP_PORT: String(h.server.port), BIMIP_ADMIN_TOKEN: ADMIN };
    const run = await bimip(['status', '--eid', 'a@example.com'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({
      node_id: h.server.nodeId,
      connections: 1,
      user: { eid: 'a@example.com', online_devices: ['phone'], queue: { head_offset: 0, first_offset: 1 }, cursors: [{ device: 'phone', cursor: 0 }] },
    });
  });

  it('cli - `bimip revoke --jti` revokes and closes with 4001; HTTP errors exit 1 with the server message; usage errors exit 2', async () => {
    const { h, url } = await adminServer();
    const pair = await h.tokens.issuePair('a@example.com', 'phone');
    const phone = await openDevice(h.server.url, pair.accessToken);
    teardown.push(() => phone.close());
    const env = { BIMIP_ADMIN_TOKEN: ADMIN };
    const revoked = await bimip(['revoke', '--jti', pair.jti, '--url', url], env);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ revoked: [pair.jti], closed_connections: 1 });
    expect((await within(phone.closed, 'the revoked connection to close')).code).toBe(4001);

    const wrong = await bimip(['status', '--url', url, '--admin-token', 'wrong-token-0123456789']);
    expect(wrong).toEqual({ code: 1, stdout: '', stderr: 'bimip: HTTP 403: wrong admin bearer token\n' });
    const badCode = await bimip(['kick', '--eid', 'a@example.com', '--code', '4009', '--url', url], env);
    expect(badCode.code).toBe(1);
    expect(badCode.stderr).toContain('HTTP 400: code must be one of');
    expect((await bimip(['revoke', '--url', url], env)).code).toBe(2);
    expect((await bimip(['revoke', '--jti', 'x', '--token', 'y', '--url', url], env)).code).toBe(2);
    expect((await bimip(['kick', '--url', url], env)).code).toBe(2);
    const noToken = await bimip(['status', '--url', url]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('BIMIP_ADMIN_TOKEN');
  });

  it('cli - an unreachable server exits 1 naming it', async () => {
    const port = await freePort();
    const run = await bimip(['status', '--url', `http://127.0.0.1:${port}`], { BIMIP_ADMIN_TOKEN: ADMIN });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach http://127.0.0.1:${port}`);
  });
});

describe('cli - check-config', () => {
  it('cli - `bimip check-config` prints the summary serve would run with, without any secret', async () => {
    const dataDir = scratchDir();
    const env = {
      BIMIP_PORT: '4999',
      BIMIP_DATA_DIR: dataDir,
      BIMIP_JWT_SECRET: 'jwt-secret-do-not-print-0123',
      BIMIP_ADMIN_TOKEN: 'admin-secret-do-not-print-0123',
      BIMIP_PUSH_WEBHOOK_URL: 'https://hooks.example.com/path-token-do-not-print',
      BIMIP_PUSH_WEBHOOK_SECRET: 'webhook-secret-do-not-print-0123',
      BIMIP_WINDOW: '64',
    };
    const run = await bimip(['check-config', '--host', '0.0.0.0'], env);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({
      valid: true,
      mode: 'embedded',
      host: '0.0.0.0',
      port: 4999,
      data_dir: dataDir,
      auth: { mode: 'secret' },
      admin_api: true,
      push_webhook: 'https://hooks.example.com',
      limits: { window: 64, max_frame_bytes: 1048576 },
    });
    expect(run.stdout).not.toContain('do-not-print');
    // Nothing started, nothing created.
    expect(existsSync(join(dataDir, 'bimip.sqlite'))).toBe(false);
  });

  it('cli - `bimip check-config` with a bad setting exits 2 naming the variable', async () => {
    const run = await bimip(['check-config'], { BIMIP_IDLE_TIMEOUT_SECONDS: 'soon' });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('BIMIP_IDLE_TIMEOUT_SECONDS');
    const cluster = await bimip(['check-config'], { BIMIP_POSTGRES_URL: 'postgres://bimip:pw@127.0.0.1:5432/bimip' });
    expect(cluster.code).toBe(2);
    expect(cluster.stderr).toContain('BIMIP_REDIS_URL');
  });

  it('cli - `bimip check-config --connect` exits 1 when PostgreSQL does not answer, without printing its password', async () => {
    const port = await freePort();
    const run = await bimip(['check-config', '--connect'], {
      BIMIP_POSTGRES_URL: `postgres://bimip:pg-password-do-not-print@127.0.0.1:${port}/bimip`,
      BIMIP_REDIS_URL: `redis://127.0.0.1:${port}`,
      BIMIP_JWT_SECRET: 'cluster-secret-0123456789',
    });
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout) as { mode: string; cluster: { postgres: string }; connect: { postgres: string; redis: string } };
    expect(summary.mode).toBe('cluster');
    expect(summary.cluster.postgres).toBe(`postgres://bimip:***@127.0.0.1:${port}/bimip`);
    expect(summary.connect.postgres).toMatch(/^failed: /);
    expect(summary.connect.redis).toMatch(/^failed: /);
    expect(run.stdout).not.toContain('pg-password-do-not-print');
  });
});

describe('cli - check-config --connect', () => {
  it("cli - `bimip check-config --connect` answers ok for the machine's PostgreSQL and Redis", async () => {
    const run = await bimip(['check-config', '--connect'], {
      BIMIP_POSTGRES_URL: POSTGRES_URL,
      BIMIP_REDIS_URL: TEST_REDIS_URL,
      BIMIP_JWT_SECRET: 'cluster-secret-0123456789',
    });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ mode: 'cluster', connect: { postgres: 'ok', redis: 'ok' } });
  });
});

describe('cli - serve banner', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await stopProcess(server);
    server = undefined;
  });

  it('cli - the banner prints a token command with the absolute data dir that works from any directory', async () => {
    const dataDir = join(scratchDir(), 'data');
    server = await startServerProcess({ port: await freePort(), dataDir, secret: '', env: { BIMIP_LOG_LEVEL: 'silent' } });
    const command = `npx bimip token --data-dir ${dataDir} --eid alice@example.com --device phone`;
    await waitFor(() => server!.output().includes(command), 'the banner');
    // The same arguments, run from an unrelated directory, give a token the server accepts.
    const run = await bimip(['token', '--data-dir', dataDir, '--eid', 'alice@example.com', '--device', 'phone'], {}, scratchDir());
    expect(run.code).toBe(0);
    const device = await openDevice(server.url, run.stdout.trim());
    device.close();
  });
});
