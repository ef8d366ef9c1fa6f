/**
 * `bimip listen` (issue #9): it keeps listening across a server kill -9 and restart, prints each
 * entry once, and exits 1 with the reason when the connection ends for good (here: the token
 * expires, 4001, and a fixed --token cannot be renewed).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { BimipConnection } from '../../src/client/index.js';
import { tempDir } from '../helpers/harness.js';
import { freePort, killProcess, startServerProcess, stopProcess, type ServerProcess } from '../helpers/server-process.js';
import { waitFor, within } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const SECRET = 'cli-listen-secret-0123456789abcdef';
const issuer = new TokenIssuer(SECRET);
const RECEIVER = 'listen-b@example.com';

let servers: ServerProcess[] = [];
const listeners: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const listener of listeners.splice(0)) if (listener.exitCode === null && listener.pid) process.kill(listener.pid, 'SIGKILL');
  await Promise.allSettled(servers.map((server) => stopProcess(server)));
  servers = [];
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function send(url: string, id: string): Promise<void> {
  const client = await BimipConnection.connect({ url, token: await issuer.issueAccessToken({ eid: 'listen-a@example.com', deviceId: 'phone' }) });
  try {
    expect((await client.send({ to: RECEIVER, id, payload: id })).code).toBe(200);
  } finally {
    await client.close();
  }
}

describe('bimip listen', () => {
  it('cli listen - reconnects after the server is killed and restarted, prints each entry once, exits 1 naming 4001 when its token expires', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const port = await freePort();
    const dataDir = join(dir, 'data');
    let server = await startServerProcess({ port, dataDir, secret: SECRET });
    servers.push(server);

    const token = await issuer.issueAccessToken({ eid: RECEIVER, deviceId: 'cli', ttlSeconds: 8 });
    const listener = spawn(process.execPath, [MAIN, 'listen', '--url', server.url, '--token', token, '--state', join(dir, 'listen.json')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    listeners.push(listener);
    let stdout = '';
    let stderr = '';
    listener.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    listener.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => listener.on('exit', (code) => resolve(code)));
    const ids = () =>
      stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { id: string }).id);

    await waitFor(() => stderr.includes('caught up'), 'listener connected', 10_000);
    await send(server.url, 'before-1');
    await send(server.url, 'before-2');
    await waitFor(() => ids().length === 2, 'two entries printed', 10_000);

    killProcess(server, 'SIGKILL');
    await within(server.exited, 'server exit', 5000);
    await waitFor(() => stderr.includes('retrying in'), 'listener reports the drop', 10_000);
    server = await startServerProcess({ port, dataDir, secret: SECRET });
    servers.push(server);
    await send(server.url, 'after-1');
    await waitFor(() => ids().length >= 3, 'entry after the restart printed', 15_000).catch((err: Error) => {
      throw new Error(`${err.message}; listener stderr: ${stderr}`);
    });
    expect(listener.exitCode).toBeNull();
    expect(ids()).toEqual(['before-1', 'before-2', 'after-1']);

    const code = await within(exited, 'listener exits at token expiry', 20_000);
    expect(code).toBe(1);
    expect(stderr).toMatch(/connection ended: 4001/);
  }, 60_000);
});
