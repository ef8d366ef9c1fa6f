/** Starts a real server on 127.0.0.1:0 with a real SQLite file in a temp dir, and connects real clients. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { TokenService } from '../../src/auth/token-service.js';
import { setUpAuth, type AuthSetup } from '../../src/cli/auth-setup.js';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { MemoryPresenceStore } from '../../src/presence/memory/memory-presence-store.js';
import { MemoryDeviceOwnership } from '../../src/ownership/memory/memory-device-ownership.js';
import { expect } from 'vitest';
import { BimipConnection, type MessageEntry, type QueueEntry } from '../../src/client/index.js';
import { BimipServer, type BimipServerOptions } from '../../src/server/bimip-server.js';
import { SqliteMessageStore, type SqliteMessageStoreOptions } from '../../src/store/sqlite/sqlite-message-store.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export interface Harness {
  server: BimipServer;
  store: SqliteMessageStore;
  tokens: TokenService;
  dataDir: string;
  issuer: TokenIssuer;
  token(eid: string, device: string, ttlSeconds?: number): Promise<string>;
  connect(eid: string, device: string): Promise<BimipConnection>;
  /** Connects and waits for the caught-up marker. */
  online(eid: string, device: string): Promise<BimipConnection>;
  /** Stops the server (graceful) and starts a new one on the same data dir. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The real token machinery (SQLite token store in `dataDir`, HS256 with TEST_SECRET); close `store` when done. */
export function openTestAuth(dataDir: string): Promise<AuthSetup> {
  return setUpAuth({
    dataDir,
    jwtSecret: TEST_SECRET,
    jwtPublicKeyPath: undefined,
    jwtIssuer: undefined,
    jwtAudience: undefined,
    accessTtlSeconds: 3600,
    refreshTtlSeconds: 86_400,
  });
}

export function tempDir(prefix = 'bimip-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A server on 127.0.0.1:0 over `store` (as message and contact store) with single-node memory
 * bus, presence and ownership; `overrides` win. The caller stops the server and owns `store`.
 */
export function startServerOnStore(store: SqliteMessageStore, tokens: TokenService, overrides: Partial<BimipServerOptions> = {}): Promise<BimipServer> {
  return BimipServer.start({
    host: '127.0.0.1',
    port: 0,
    store,
    contacts: store,
    bus: MemoryBus.standalone(),
    presence: new MemoryPresenceStore(),
    ownership: new MemoryDeviceOwnership(),
    tokens,
    logger: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
    ...overrides,
  });
}

export async function startHarness(
  overrides: Partial<BimipServerOptions> = {},
  dataDir = tempDir(),
  storeOptions: Partial<Omit<SqliteMessageStoreOptions, 'path'>> = {},
): Promise<Harness> {
  const issuer = new TokenIssuer(TEST_SECRET);
  const clients: BimipConnection[] = [];
  const authStores: Array<{ close(): Promise<void> }> = [];
  const boot = async (): Promise<{ server: BimipServer; store: SqliteMessageStore; tokens: TokenService }> => {
    const store = await SqliteMessageStore.open({ ...storeOptions, path: join(dataDir, 'bimip.sqlite') });
    const auth = await openTestAuth(dataDir);
    const server = await startServerOnStore(store, auth.tokens, overrides);
    authStores.push(auth.store);
    return { server, store, tokens: auth.tokens };
  };
  let current = await boot();
  const harness: Harness = {
    get server() {
      return current.server;
    },
    get store() {
      return current.store;
    },
    get tokens() {
      return current.tokens;
    },
    dataDir,
    issuer,
    token: (eid, device, ttlSeconds) => issuer.issueAccessToken({ eid, deviceId: device, ttlSeconds }),
    async connect(eid, device) {
      const client = await BimipConnection.connect({ url: current.server.url, token: await harness.token(eid, device) });
      clients.push(client);
      return client;
    },
    async online(eid, device) {
      const client = await harness.connect(eid, device);
      await client.caughtUp;
      return client;
    },
    async restart() {
      await current.server.stop();
      current = await boot();
    },
    async close() {
      for (const client of clients) void client.close();
      await current.server.stop();
      for (const store of authStores) await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Takes `count` entries from the client's stream, failing after `timeoutMs`. */
export async function takeEntries(client: BimipConnection, count: number, timeoutMs = 5000): Promise<QueueEntry[]> {
  const taken: QueueEntry[] = [];
  const deadline = Date.now() + timeoutMs;
  while (taken.length < count) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out after ${taken.length}/${count} entries`);
    const next = await Promise.race([client.entries.next(), new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), remaining))]);
    if (next === 'timeout') throw new Error(`timed out after ${taken.length}/${count} entries`);
    if (next.done) throw new Error(`stream ended after ${taken.length}/${count} entries`);
    taken.push(next.value);
  }
  return taken;
}

/** Asserts that `entry` is a message entry (kind 'message') and returns it, typed as such. */
export function messageOf(entry: QueueEntry | undefined): MessageEntry {
  expect(entry, 'expected a message entry').toMatchObject({ kind: 'message' });
  if (entry?.kind !== 'message') throw new Error(`expected a message entry, got ${entry === undefined ? 'none' : `kind '${entry.kind}'`}`);
  return entry;
}

/** Asserts that every entry is a message entry and returns them, typed as such. */
export function messagesOf(entries: readonly QueueEntry[]): MessageEntry[] {
  return entries.map((entry) => messageOf(entry));
}

/** Takes `count` entries like takeEntries, asserting each is a message entry. */
export async function takeMessages(client: BimipConnection, count: number, timeoutMs = 5000): Promise<MessageEntry[]> {
  return messagesOf(await takeEntries(client, count, timeoutMs));
}

/** Resolves true if no entry arrives within `ms`. */
export async function noEntryWithin(client: BimipConnection, ms: number): Promise<boolean> {
  if (client.entries.size > 0) return false;
  return new Promise((resolve) => setTimeout(() => resolve(client.entries.size === 0), ms));
}

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
