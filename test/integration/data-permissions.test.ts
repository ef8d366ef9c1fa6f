/**
 * Issue #7 item 9: the data dir (message bodies, token hashes, the generated JWT secret) is private
 * to the server's user: dir 0700, files 0600, including the files SQLite creates later, and an
 * existing install is tightened at start. Runs the real `bimip serve` process.
 */
import { chmodSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/harness.js';
import { freePort, startServerProcess, stopProcess, type ServerProcess } from '../helpers/server-process.js';

const ADMIN = 'admin-token-0123456789';
let server: ServerProcess | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await stopProcess(server);
  server = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** Every file of the data dir with its mode, e.g. {"auth.sqlite": 0o600}. */
function fileModes(dataDir: string): Record<string, number> {
  return Object.fromEntries(readdirSync(dataDir).map((name) => [name, modeOf(join(dataDir, name))]));
}

async function start(dataDir: string): Promise<ServerProcess> {
  return startServerProcess({
    port: await freePort(),
    dataDir,
    secret: '',
    env: {
      // No JWT setting: the secret is generated into the data dir; the webhook makes push-outbox.sqlite.
      BIMIP_JWT_SECRET: '',
      BIMIP_ADMIN_TOKEN: ADMIN,
      BIMIP_PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/push',
      BIMIP_PUSH_WEBHOOK_SECRET: 'push-secret-0123456789',
    },
  });
}

/** A message and a token, so every database has been written. */
async function useIt(process: ServerProcess, messageId = 'm-1'): Promise<void> {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` };
  const sent = await fetch(`${process.baseUrl}/v1/messages`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ id: messageId, to: 'b@example.com', payload: 'secret words' }),
  });
  expect(sent.status).toBe(200);
  const issued = await fetch(`${process.baseUrl}/v1/tokens`, { method: 'POST', headers, body: JSON.stringify({ eid: 'b@example.com', device: 'phone' }) });
  expect(issued.status).toBe(201);
}

const EXPECTED_FILES = ['auth.sqlite', 'bimip.sqlite', 'bimip.sqlite-shm', 'bimip.sqlite-wal', 'jwt-secret', 'push-outbox.sqlite'];

describe('data dir permissions', () => {
  it('permissions - a new data dir is 0700 and every file in it 0600, the SQLite -wal/-shm files included', async () => {
    const parent = tempDir();
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    server = await start(dataDir);
    await useIt(server);
    const modes = fileModes(dataDir);
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(EXPECTED_FILES));
    expect(modeOf(dataDir).toString(8)).toBe('700');
    for (const [name, mode] of Object.entries(modes)) expect({ name, mode: mode.toString(8) }).toEqual({ name, mode: '600' });
    // The store's write-health gauge is wired.
    expect(await (await fetch(`${server.baseUrl}/metrics`)).text()).toMatch(/^bimip_store_writes_healthy 1$/m);
  });

  it('permissions - an existing install with 0755 / 0644 is tightened at start, and each change is logged', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    server = await start(dataDir);
    await useIt(server);
    await stopProcess(server); // SIGKILL: the -wal and -shm files stay, as after a crash
    chmodSync(dataDir, 0o755);
    for (const name of readdirSync(dataDir)) chmodSync(join(dataDir, name), 0o644);

    server = await start(dataDir);
    await useIt(server, 'm-2');
    expect(modeOf(dataDir).toString(8)).toBe('700');
    const modes = fileModes(dataDir);
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(EXPECTED_FILES));
    for (const [name, mode] of Object.entries(modes)) expect({ name, mode: mode.toString(8) }).toEqual({ name, mode: '600' });
    const logged = server
      .output()
      .split('\n')
      .filter((line) => line.includes('permissions tightened'))
      .map((line) => JSON.parse(line) as { path: string; from: string; to: string });
    expect(logged).toContainEqual(expect.objectContaining({ path: dataDir, from: '0755', to: '0700' }));
    for (const name of EXPECTED_FILES) expect(logged).toContainEqual(expect.objectContaining({ path: join(dataDir, name), from: '0644', to: '0600' }));
  });
});
