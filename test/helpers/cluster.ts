/**
 * A real cluster for integration tests (SPEC §11): several `bimip serve` processes (distinct ports
 * and data dirs) sharing one throwaway PostgreSQL schema `bimip_c_<random>` and one Redis prefix
 * `bimip-c-<random>:`. `close()` kills only the PIDs spawned here, terminates only the PostgreSQL
 * sessions tagged with the schema's name (application_name), DROPs the schema (CASCADE) and deletes
 * the prefix's keys (SCAN + DEL) — each step runs even when an earlier one failed.
 *
 * Also: a private `redis-server` child (for tests that kill Redis without touching the machine's)
 * and small helpers for /healthz, the admin API and awareness streams.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { BimipConnection } from '../../src/client/index.js';
import type { Awareness } from '../../src/protocol/index.js';
import { tempDir, TEST_SECRET } from './harness.js';
import { POSTGRES_URL } from './postgres.js';
import { deleteKeys, TEST_REDIS_URL } from './redis.js';
import { freePort, startServerProcess, stopProcess, type ServerProcess } from './server-process.js';
import { within } from './wait.js';

/** Node indexes (into `cluster.nodes`) named by the 1-based node numbers the scenarios use. */
export const N1 = 0;
export const N2 = 1;
export const N3 = 2;

export const ADMIN_TOKEN = 'cluster-admin-token-0123456789';

/** Every child PID this worker spawned and has not seen exit: SIGKILLed if the worker exits first. */
const livePids = new Set<number>();
process.once('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
function track(child: ChildProcess): void {
  if (child.pid === undefined) return;
  const pid = child.pid;
  livePids.add(pid);
  child.once('exit', () => livePids.delete(pid));
}

export interface ClusterOptions {
  /** How many nodes (default 3). */
  nodes?: number;
  /** Redis every node uses (default the machine's, BIMIP_TEST_REDIS_URL). */
  redisUrl?: string;
  /** The PostgreSQL URL of node i (default the machine's); the schema and session tag are appended. */
  postgresBaseUrl?: (index: number) => string;
  /** Extra environment for every node. */
  env?: Record<string, string>;
}

export interface Cluster {
  readonly schema: string;
  readonly prefix: string;
  readonly issuer: TokenIssuer;
  readonly size: number;
  /** Node i (0-based); throws if it is not running. */
  node(index: number): ServerProcess;
  /** (Re)starts node i on its own port and data dir. */
  start(index: number): Promise<ServerProcess>;
  /** SIGKILLs node i (its PID only) and waits until it is gone. */
  kill(index: number): Promise<void>;
  /** Connects (eid, device) to node i with a fresh token; waits for the caught-up marker unless told not to. */
  connect(index: number, eid: string, device: string, options?: { token?: string; caughtUp?: boolean }): Promise<BimipConnection>;
  /** A query on the cluster's schema (for checks of what is durably stored). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  close(): Promise<void>;
}

/** A URL for node processes: the schema (SPEC §11 `?schema=`) and an application_name that tags its sessions. */
function nodePostgresUrl(base: string, schema: string): string {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  url.searchParams.set('application_name', schema);
  return url.toString();
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const size = options.nodes ?? 3;
  const suffix = randomBytes(6).toString('hex');
  const schema = `bimip_c_${suffix}`;
  const prefix = `bimip-c-${suffix}:`;
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const issuer = new TokenIssuer(TEST_SECRET);
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  admin.on('error', () => undefined);
  const reader = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, options: `-c search_path=${schema}`, application_name: schema });
  reader.on('error', () => undefined);
  await admin.query(`CREATE SCHEMA ${schema}`);

  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const dataDirs = Array.from({ length: size }, () => tempDir('bimip-cluster-'));
  const nodes: Array<ServerProcess | undefined> = Array.from({ length: size });
  const clients: BimipConnection[] = [];

  const start = async (index: number): Promise<ServerProcess> => {
    if (nodes[index] && !nodes[index]!.hasExited) throw new Error(`node ${index + 1} is already running`);
    const base = options.postgresBaseUrl?.(index) ?? POSTGRES_URL;
    const server = await startServerProcess(
      {
        port: ports[index]!,
        dataDir: dataDirs[index]!,
        secret: TEST_SECRET,
        env: {
          BIMIP_POSTGRES_URL: nodePostgresUrl(base, schema),
          BIMIP_REDIS_URL: redisUrl,
          BIMIP_REDIS_PREFIX: prefix,
          BIMIP_ADMIN_TOKEN: ADMIN_TOKEN,
          BIMIP_LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
          ...options.env,
        },
      },
      20_000,
    );
    track(server.child);
    nodes[index] = server;
    return server;
  };

  const cluster: Cluster = {
    schema,
    prefix,
    issuer,
    size,
    node(index) {
      const server = nodes[index];
      if (!server || server.hasExited) throw new Error(`node ${index + 1} is not running`);
      return server;
    },
    start,
    async kill(index) {
      const server = nodes[index];
      if (!server) return;
      await stopProcess(server);
    },
    async connect(index, eid, device, connectOptions = {}) {
      const token = connectOptions.token ?? (await issuer.issueAccessToken({ eid, deviceId: device }));
      const client = await BimipConnection.connect({ url: cluster.node(index).url, token, connectTimeoutMs: 5000 });
      clients.push(client);
      if (connectOptions.caughtUp !== false) await within(client.caughtUp, `caught-up marker for ${eid}/${device} on node ${index + 1}`);
      return client;
    },
    query: (sql, params) => reader.query(sql, params),
    async close() {
      const steps: Array<[string, () => Promise<unknown>]> = [
        ['close clients', () => Promise.allSettled(clients.map((client) => within(client.close(), 'client close', 2000)))],
        ['stop nodes', () => Promise.allSettled(nodes.map((server) => stopProcess(server)))],
        ['end reader', () => reader.end()],
        [
          'terminate sessions',
          // Only the sessions tagged with this cluster's schema (its nodes, through the URL above).
          () => admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [schema]),
        ],
        [
          'drop schema',
          async () => {
            const client = await admin.connect();
            try {
              await client.query("SET lock_timeout = '10s'");
              await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            } finally {
              client.release();
            }
          },
        ],
        ['end admin', () => admin.end()],
        ['delete redis keys', () => deleteRedisKeys(TEST_REDIS_URL, prefix)],
        [
          'remove data dirs',
          async () => {
            for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
          },
        ],
      ];
      const failures: string[] = [];
      for (const [what, step] of steps) {
        try {
          await within(step(), what, 15_000);
        } catch (err) {
          failures.push(`${what}: ${(err as Error).message}`);
        }
      }
      if (failures.length > 0) throw new Error(`cluster cleanup failed: ${failures.join('; ')}`);
    },
  };
  try {
    await Promise.all(Array.from({ length: size }, (_, index) => start(index)));
  } catch (err) {
    await cluster.close().catch(() => undefined);
    throw err;
  }
  return cluster;
}

/** Deletes the keys under `prefix` on the Redis at `url` (SCAN + DEL; never FLUSHDB). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await deleteKeys(redis, `${prefix}*`);
  } finally {
    redis.disconnect();
  }
}

/** A private redis-server child on its own port (no persistence): kill and restart it freely. */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** SIGKILLs the child (its PID only) and waits for it to exit. */
  kill(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const handle: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    async start() {
      output = '';
      const spawned = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = spawned;
      track(spawned);
      spawned.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      spawned.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      let gone = false;
      exited = new Promise((resolve) =>
        spawned.once('exit', () => {
          gone = true;
          resolve();
        }),
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (gone) throw new Error(`redis-server exited at start:\n${output}`);
        if (Date.now() > deadline) throw new Error(`redis-server not ready within 10 s:\n${output}`);
        const probe = new Redis(handle.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          // not up yet
        } finally {
          probe.disconnect();
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async kill() {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      running.kill('SIGKILL');
      await within(exited, `redis-server pid ${running.pid} to exit`, 5000);
    },
  };
  await handle.start();
  return handle;
}

export interface Health {
  status: number;
  body: { status?: string; reason?: string } & Record<string, unknown>;
}

export async function health(server: ServerProcess): Promise<Health> {
  const response = await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: (await response.json()) as Health['body'] };
}

/** Polls /healthz until `accept` holds; returns that answer, or throws with the last one seen. */
export async function healthUntil(server: ServerProcess, accept: (h: Health) => boolean, what: string, timeoutMs: number): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  let last: Health | string = 'no answer';
  for (;;) {
    try {
      last = await health(server);
      if (accept(last)) return last;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last /healthz: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** POST to the admin API with the admin bearer. */
export async function adminPost(server: ServerProcess, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * Records every awareness pushed to a client (draining `client.awareness` in the background, so a
 * wait that times out never swallows a later item), and waits on that record.
 */
export class AwarenessLog {
  readonly seen: Array<Awareness & { receivedAt: number }> = [];
  private read = 0;

  constructor(client: BimipConnection) {
    void (async () => {
      for await (const awareness of client.awareness) this.seen.push(Object.assign(awareness, { receivedAt: Date.now() }));
    })();
  }

  /** The next unread awareness about `eid` matching `accept` (skipping others about anyone); throws after `timeoutMs`. */
  async next(eid: string, timeoutMs: number, accept: (a: Awareness) => boolean = () => true): Promise<Awareness & { receivedAt: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.read < this.seen.length) {
        const item = this.seen[this.read++]!;
        if (item.from?.eid === eid && accept(item)) return item;
      }
      if (Date.now() > deadline) throw new Error(`no awareness about ${eid} within ${timeoutMs} ms (all seen: ${JSON.stringify(this.seen.map(brief))})`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Every unread awareness about `eid` that arrives in the next `ms` (consumed). */
  async during(eid: string, ms: number): Promise<Awareness[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const found = this.seen.slice(this.read).filter((item) => item.from?.eid === eid);
    this.read = this.seen.length;
    return found;
  }

  /** Marks everything so far as read. */
  skipAll(): void {
    this.read = this.seen.length;
  }
}

export function brief(a: Awareness): { from: string; status: number; lastSeen: number } {
  return { from: a.from?.eid ?? '', status: a.status, lastSeen: a.lastSeen };
}

/** Resolves with the close code and when it closed (record it right after connecting). */
export function closeWatch(client: BimipConnection): Promise<{ code: number; at: number }> {
  return client.closed.then(({ code }) => ({ code, at: Date.now() }));
}

/** The entries already buffered by the client (e.g. the catch-up pushed before the caught-up marker), taken without waiting. */
export async function takeBuffered<T>(queue: { size: number; next(): Promise<IteratorResult<T>> }): Promise<T[]> {
  const taken: T[] = [];
  while (queue.size > 0) {
    const next = await queue.next();
    if (next.done) break;
    taken.push(next.value);
  }
  return taken;
}

/**
 * A TCP proxy that can black-hole traffic (a network partition: connections stay open, nothing
 * answers; new connections are accepted and hang), unlike tcp-proxy.ts's stop() (refused at once).
 * `heal()` resets the black-holed connections (as their peers' timeouts would) and forwards again.
 */
export interface PartitionProxy {
  readonly port: number;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startPartitionProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<PartitionProxy> {
  const { createServer, connect } = await import('node:net');
  type Socket = import('node:net').Socket;
  const pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();
  let partitioned = false;
  const server = createServer((client) => {
    const pair: { client: Socket; upstream: Socket | undefined } = { client, upstream: undefined };
    pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    // Data is forwarded only while not partitioned; during a partition it is dropped (never answered).
    client.on('data', (chunk: Buffer) => {
      if (!partitioned) pair.upstream?.write(chunk);
    });
    if (partitioned) return; // accepted, never connected upstream: hangs like a partitioned peer
    const upstream = connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('data', (chunk: Buffer) => {
      if (!partitioned) client.write(chunk);
    });
    upstream.on('close', () => client.destroy());
    // Bytes the client sent before the upstream connected are queued by the upstream socket's write.
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    port,
    partition() {
      partitioned = true;
    },
    heal() {
      partitioned = false;
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
    },
    async close() {
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
