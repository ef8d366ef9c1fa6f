/**
 * The SDK against the real server process under kill -9 (issue #9): two BimipClients with file
 * storage chat while the server is killed and restarted on the same port and data dir. Every
 * message sent is stored exactly once, the receiving app sees each entry exactly once and in
 * order, and a restarted receiving app is not handed again what it committed.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { type Ack, BimipClient, BimipConnection, type ConnectionState, FileStorage, type MessageEntry, type QueueEntry } from '../../src/client/index.js';
import { tempDir } from '../helpers/harness.js';
import { freePort, killProcess, startServerProcess, stopProcess, type ServerProcess } from '../helpers/server-process.js';
import { waitFor, within } from '../helpers/wait.js';

const SECRET = 'sdk-crash-restart-secret-0123456789';
const issuer = new TokenIssuer(SECRET);
const ALICE = 'sdk-alice@example.com';
const BOB = 'sdk-bob@example.com';
const MESSAGES = 60;

let servers: ServerProcess[] = [];
let clients: BimipClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.allSettled(clients.map((client) => within(client.close(), 'client close', 3000)));
  clients = [];
  await Promise.allSettled(servers.map((server) => stopProcess(server)));
  servers = [];
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startServer(port: number, dataDir: string): Promise<ServerProcess> {
  const server = await startServerProcess({ port, dataDir, secret: SECRET });
  servers.push(server);
  return server;
}

function client(url: string, eid: string, storagePath: string): BimipClient {
  const sdk = new BimipClient({
    url,
    getToken: () => issuer.issueAccessToken({ eid, deviceId: 'phone' }),
    storage: new FileStorage(storagePath),
    reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
    heartbeatIntervalMs: 2000,
    heartbeatTimeoutMs: 1000,
  });
  clients.push(sdk);
  return sdk;
}

/** Reads entries as an app would: record, then commit. */
function consume(sdk: BimipClient, seen: QueueEntry[]): Promise<void> {
  return (async () => {
    for await (const entry of sdk.entries) {
      seen.push(entry);
      await sdk.commit(entry.offset);
    }
  })();
}

describe('SDK across a server kill -9 and restart', () => {
  it('sdk crash - every message stored once, the receiving app sees each exactly once and in order, also after its own restart', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    const port = await freePort();
    const server = await startServer(port, dataDir);
    const url = server.url;

    const alice = client(url, ALICE, join(dir, 'alice.json'));
    const bob = client(url, BOB, join(dir, 'bob.json'));
    const bobStates: ConnectionState[] = [];
    bob.on('state', (state) => bobStates.push(state));
    await Promise.all([alice.start(), bob.start()]);
    await within(Promise.all([alice.whenConnected(), bob.whenConnected()]), 'both connected', 10_000);
    const seen: QueueEntry[] = [];
    const reading = consume(bob, seen);

    const sends: Array<Promise<Ack>> = [];
    const ids = Array.from({ length: MESSAGES }, (_, i) => `crash-msg-${i + 1}`);
    for (const id of ids.slice(0, 20)) sends.push(alice.send({ to: BOB, id, payload: `hello ${id}` }));
    await waitFor(() => seen.length >= 5, 'bob received the first messages', 10_000);

    // Mid-conversation: some of the 20 are acked, some in flight, some not yet sent.
    killProcess(server, 'SIGKILL');
    await within(server.exited, 'server exit', 5000);
    for (const id of ids.slice(20, 40)) sends.push(alice.send({ to: BOB, id, payload: `hello ${id}` }));
    await waitFor(() => !alice.isConnected && !bob.isConnected, 'both clients notice the loss', 10_000);
    expect(alice.outboxSize).toBeGreaterThan(0);

    await startServer(port, dataDir);
    for (const id of ids.slice(40)) sends.push(alice.send({ to: BOB, id, payload: `hello ${id}` }));
    const acks = await within(Promise.all(sends), 'every send acked after the restart', 30_000);
    expect(acks.every((ack) => ack.code === 200 || ack.code === 409)).toBe(true);
    expect(alice.outboxSize).toBe(0);
    await waitFor(() => seen.length >= MESSAGES, 'bob has every message', 20_000);

    const received = seen.filter((entry): entry is MessageEntry => entry.kind === 'message').map((entry) => entry.message.id);
    expect(received).toHaveLength(MESSAGES);
    expect(new Set(received).size).toBe(MESSAGES);
    expect(new Set(received)).toEqual(new Set(ids));
    const offsets = seen.map((entry) => entry.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(offsets.length);
    expect(bobStates.some((state) => state.state === 'disconnected' && state.willRetry)).toBe(true);

    // Stored once: bob's whole queue, read by another device with Sync, holds each id once.
    const token = await issuer.issueAccessToken({ eid: BOB, deviceId: 'auditor' });
    const auditor = await BimipConnection.connect({ url, token });
    try {
      await within(auditor.caughtUp, 'auditor caught up');
      const stored: string[] = [];
      let after = 0;
      for (;;) {
        const page = await auditor.sync(after, 1000);
        for (const entry of page.entries) if (entry.kind === 'message') stored.push(entry.message.id);
        if (page.entries.length === 0) break;
        after = page.entries.at(-1)!.offset;
      }
      expect(stored.filter((id) => id.startsWith('crash-msg-')).sort()).toEqual([...ids].sort());
    } finally {
      await auditor.close();
    }

    // Bob's app restarts (same storage): nothing it committed comes back; new messages do.
    await bob.close();
    await reading;
    const bobAgain = client(url, BOB, join(dir, 'bob.json'));
    const seenAgain: QueueEntry[] = [];
    await bobAgain.start();
    const readingAgain = consume(bobAgain, seenAgain);
    await within(bobAgain.whenConnected(), 'bob reconnected', 10_000);
    await alice.send({ to: BOB, id: 'after-restart', payload: 'still here' });
    await waitFor(() => seenAgain.length >= 1, 'bob sees the new message', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seenAgain.map((entry) => (entry.kind === 'message' ? entry.message.id : entry.kind))).toEqual(['after-restart']);
    await bobAgain.close();
    await readingAgain;
  }, 90_000);
});
